package helmrelease

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-logr/logr"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Chart is a loaded Helm chart (API v1 or v2 Chart.yaml), read from the
// .tgz a source/helm Chart, OCIChart or Build writes.
type Chart struct {
	c *chartv2.Chart
}

// LoadChart reads a packaged chart (.tgz) as Helm's loader does, under
// Helm's own size limits.
func LoadChart(r io.Reader) (ch *Chart, err error) {
	defer func() {
		if p := recover(); p != nil {
			ch, err = nil, fmt.Errorf("load chart: the chart loader failed: %v", p)
		}
	}()
	c, err := loader.LoadArchive(r)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	return &Chart{c: c}, nil
}

// LoadChartDir reads an unpacked chart directory as helm template does.
func LoadChartDir(dir string) (ch *Chart, err error) {
	defer func() {
		if p := recover(); p != nil {
			ch, err = nil, fmt.Errorf("load chart: the chart loader failed: %v", p)
		}
	}()
	c, err := loader.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	return &Chart{c: c}, nil
}

// Name is the chart's name.
func (c *Chart) Name() string { return c.c.Name() }

// Version is the chart's version.
func (c *Chart) Version() string { return c.c.Metadata.Version }

// AppVersion is the chart's appVersion.
func (c *Chart) AppVersion() string { return c.c.Metadata.AppVersion }

// DefaultKubeVersion is the Kubernetes version Render reports when
// RenderOptions.KubeVersion is empty: the one `helm template` reports when
// built with the k8s.io/client-go this module requires (v0.37 → v1.37.0).
// Helm derives its own default from the client-go version linked into the
// running program (and uses v1.20.0 in test binaries); Render pins it, so a
// render does not change with the program that runs it.
const DefaultKubeVersion = "v1.37.0"

// RenderOptions configure Render. The zero value renders as `helm
// template` does with Helm's default capabilities, no post-renderer and no
// CRDs in the manifest.
type RenderOptions struct {
	// ReleaseName is .Release.Name; empty means "release-name", as helm
	// template names it.
	ReleaseName string
	// Namespace is .Release.Namespace; empty means "default".
	Namespace string
	// Values are the composed values (ComposeValues).
	Values map[string]any
	// KubeVersion is .Capabilities.KubeVersion (e.g. "v1.35.0"); empty
	// means DefaultKubeVersion.
	KubeVersion string
	// APIVersions are added to .Capabilities.APIVersions.
	APIVersions []string
	// IsUpgrade renders with .Release.IsUpgrade instead of IsInstall.
	IsUpgrade bool
	// IncludeCRDs puts the chart's crds/ files at the top of the manifest
	// (helm template --include-crds).
	IncludeCRDs bool
	// SkipSchemaValidation skips values.schema.json.
	SkipSchemaValidation bool
	// PostRenderers run in order over the rendered objects (FluxPostRenderers
	// gives Flux's set for a HelmRelease).
	PostRenderers []PostRenderer
	// PostRenderStrategy is Helm's: "combined" (default: manifests and
	// hooks post-rendered together, as Flux does on Helm 4), "separate" or
	// "nohooks" (Helm 3's behaviour: hooks untouched).
	PostRenderStrategy string
}

// Hook is a rendered Helm hook.
type Hook struct {
	// Path is the template's path in the chart.
	Path string
	// Kind and Name identify the object.
	Kind, Name string
	// Events are the hook events ("pre-install", "test", ...).
	Events []string
	// Weight orders hooks of one event.
	Weight int
	// Manifest is the object's YAML.
	Manifest string
}

// Rendered is what Render produces.
type Rendered struct {
	// Manifest is the release manifest, as Helm stores it (documents with
	// "# Source:" comments, in Helm's install order).
	Manifest string
	// Hooks are the hooks, in Helm's order.
	Hooks []Hook
	// Notes is the rendered NOTES.txt.
	Notes string
	// Objects are the objects of Manifest.
	Objects []*unstructured.Unstructured
}

// String returns the manifest and hooks exactly as `helm template` prints
// them.
func (r *Rendered) String() string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(r.Manifest))
	b.WriteString("\n")
	for _, h := range r.Hooks {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	return b.String()
}

// HookObjects returns the hooks as objects, in Helm's order.
func (r *Rendered) HookObjects() ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, h := range r.Hooks {
		objs, err := decodeObjects(h.Manifest)
		if err != nil {
			return nil, fmt.Errorf("hook %s: %w", h.Path, err)
		}
		out = append(out, objs...)
	}
	return out, nil
}

// Render renders a chart offline as `helm template` does (client-side
// dry-run: no API server, capabilities from opts, DefaultKubeVersion unless
// set), runs the post-renderers
// on manifests and hooks, and returns the release manifest, hooks, notes
// and objects. Helm's log records go to the logr.Logger of ctx.
func Render(ctx context.Context, ch *Chart, opts RenderOptions) (*Rendered, error) {
	if ch == nil || ch.c == nil {
		return nil, errors.New("render: no chart")
	}
	cfg := newConfiguration(ctx)
	in := action.NewInstall(cfg)
	in.DryRunStrategy = action.DryRunClient
	in.Replace = true
	in.ReleaseName = opts.ReleaseName
	if in.ReleaseName == "" {
		in.ReleaseName = "release-name"
	}
	in.Namespace = opts.Namespace
	if in.Namespace == "" {
		in.Namespace = "default"
	}
	kubeVersion := opts.KubeVersion
	if kubeVersion == "" {
		kubeVersion = DefaultKubeVersion
	}
	kv, err := common.ParseKubeVersion(kubeVersion)
	if err != nil {
		return nil, fmt.Errorf("render: kube version %q: %w", kubeVersion, err)
	}
	in.KubeVersion = kv
	in.APIVersions = common.VersionSet(opts.APIVersions)
	in.IsUpgrade = opts.IsUpgrade
	in.IncludeCRDs = opts.IncludeCRDs
	in.SkipSchemaValidation = opts.SkipSchemaValidation
	if len(opts.PostRenderers) > 0 {
		in.PostRenderer = chain(opts.PostRenderers)
	}
	if opts.PostRenderStrategy != "" {
		in.PostRenderStrategy = action.PostRenderStrategy(opts.PostRenderStrategy)
	}
	vals := opts.Values
	if vals == nil {
		vals = map[string]any{}
	}
	rel, err := runInstall(ctx, in, ch.c, vals)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", ch.Name(), err)
	}
	return renderedOf(rel)
}

// runInstall runs an install action, recovering panics of the chart
// engine.
func runInstall(ctx context.Context, in *action.Install, ch *chartv2.Chart, vals map[string]any) (rel *releasev1.Release, err error) {
	defer func() {
		if p := recover(); p != nil {
			rel, err = nil, fmt.Errorf("helm failed: %v", p)
		}
	}()
	r, err := in.RunWithContext(ctx, ch, vals)
	if err != nil {
		return nil, err
	}
	rel, ok := r.(*releasev1.Release)
	if !ok {
		return nil, fmt.Errorf("unexpected release type %T", r)
	}
	return rel, nil
}

func renderedOf(rel *releasev1.Release) (*Rendered, error) {
	out := &Rendered{Manifest: rel.Manifest}
	if rel.Info != nil {
		out.Notes = rel.Info.Notes
	}
	for _, h := range rel.Hooks {
		hk := Hook{Path: h.Path, Kind: h.Kind, Name: h.Name, Weight: h.Weight, Manifest: h.Manifest}
		for _, e := range h.Events {
			hk.Events = append(hk.Events, string(e))
		}
		out.Hooks = append(out.Hooks, hk)
	}
	objs, err := decodeObjects(rel.Manifest)
	if err != nil {
		return nil, fmt.Errorf("release manifest: %w", err)
	}
	out.Objects = objs
	return out, nil
}

// newConfiguration returns a Helm action configuration logging to the
// logr.Logger of ctx.
func newConfiguration(ctx context.Context) *action.Configuration {
	log := logr.FromContextOrDiscard(ctx)
	return action.NewConfiguration(action.ConfigurationSetLogger(logr.ToSlogHandler(log)))
}

// decodeObjects splits a YAML stream into objects, skipping empty
// documents.
func decodeObjects(manifest string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

// Helm returns the chart as the Helm SDK holds it, for the release actions
// (helmrelease/cluster) and for callers that need the SDK directly.
func (c *Chart) Helm() *chartv2.Chart { return c.c }
