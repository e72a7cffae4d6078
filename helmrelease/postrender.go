package helmrelease

import (
	"bytes"
	"encoding/json"
	"fmt"

	"sigs.k8s.io/kustomize/api/filters/annotations"
	"sigs.k8s.io/kustomize/api/filters/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resmap"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/resid"

	"github.com/gitopskit/gitopskit/kustomize"
)

// PostRenderer transforms the rendered manifests of a release (a YAML
// stream) before Helm applies them; it is Helm's post-renderer interface,
// implemented here by Kustomize, CommonMetadata and OriginLabels, and run
// in order by Render and the release actions.
type PostRenderer interface {
	Run(rendered *bytes.Buffer) (*bytes.Buffer, error)
}

// Kustomize is Flux's spec.postRenderers[].kustomize: strategic merge and
// JSON 6902 patches (kustomize tells them apart by content) with optional
// target selectors, and image overrides, applied by kustomize's builtin
// transformers in memory (no plugin, no file read).
type Kustomize struct {
	// Patches are applied in order.
	Patches []kustomize.Patch
	// Images override container images.
	Images []kustomize.Image
}

// Run implements PostRenderer.
func (k Kustomize) Run(rendered *bytes.Buffer) (out *bytes.Buffer, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("kustomize post-renderer: kustomize failed: %v", r)
		}
	}()
	fs := filesys.MakeFsInMemory()
	const input = "helm-output.yaml"
	if err := fs.WriteFile(input, rendered.Bytes()); err != nil {
		return nil, err
	}
	kus := kustypes.Kustomization{
		TypeMeta:  kustypes.TypeMeta{APIVersion: kustypes.KustomizationVersion, Kind: kustypes.KustomizationKind},
		Resources: []string{input},
	}
	for _, im := range k.Images {
		kus.Images = append(kus.Images, kustypes.Image{Name: im.Name, NewName: im.NewName, NewTag: im.NewTag, Digest: im.Digest})
	}
	for _, p := range k.Patches {
		kp := kustypes.Patch{Patch: p.Patch}
		if p.Target != nil {
			kp.Target = &kustypes.Selector{
				ResId:              resIDOf(p.Target),
				LabelSelector:      p.Target.LabelSelector,
				AnnotationSelector: p.Target.AnnotationSelector,
			}
		}
		kus.Patches = append(kus.Patches, kp)
	}
	data, err := json.Marshal(kus)
	if err != nil {
		return nil, err
	}
	if err := fs.WriteFile("kustomization.yaml", data); err != nil {
		return nil, err
	}
	kz := krusty.MakeKustomizer(&krusty.Options{
		LoadRestrictions: kustypes.LoadRestrictionsRootOnly,
		PluginConfig:     kustypes.DisabledPluginConfig(),
	})
	rm, err := kz.Run(fs, ".")
	if err != nil {
		return nil, fmt.Errorf("kustomize post-renderer: %w", err)
	}
	y, err := rm.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize post-renderer: %w", err)
	}
	return bytes.NewBuffer(y), nil
}

// CommonMetadata is Flux's spec.commonMetadata: labels and annotations set
// on every rendered object (hooks included).
type CommonMetadata struct {
	Labels      map[string]string
	Annotations map[string]string
}

// Run implements PostRenderer.
func (c CommonMetadata) Run(rendered *bytes.Buffer) (*bytes.Buffer, error) {
	var ts []kio.Filter
	if len(c.Labels) > 0 {
		ts = append(ts, labelFilter(c.Labels))
	}
	if len(c.Annotations) > 0 {
		ts = append(ts, annotations.Filter{
			Annotations: c.Annotations,
			FsSlice:     []kustypes.FieldSpec{{Path: "metadata/annotations", CreateIfNotPresent: true}},
		})
	}
	if len(ts) == 0 {
		return rendered, nil
	}
	return transform(rendered, ts...)
}

// OriginLabels sets the labels Flux puts on every object of a release,
// "helm.toolkit.fluxcd.io/name" and "helm.toolkit.fluxcd.io/namespace",
// naming the HelmRelease.
type OriginLabels struct {
	// Namespace and Name of the HelmRelease.
	Namespace, Name string
}

// Run implements PostRenderer.
func (o OriginLabels) Run(rendered *bytes.Buffer) (*bytes.Buffer, error) {
	return transform(rendered, labelFilter(map[string]string{
		"helm.toolkit.fluxcd.io/name":      o.Name,
		"helm.toolkit.fluxcd.io/namespace": o.Namespace,
	}))
}

// FluxPostRenderers returns the post-renderers Flux's helm-controller runs
// for a HelmRelease, in its order: each Kustomize post-renderer, then
// CommonMetadata when set, then OriginLabels (which win over a common
// label of the same key).
func FluxPostRenderers(namespace, name string, kustomizes []Kustomize, common *CommonMetadata) []PostRenderer {
	var out []PostRenderer
	for _, k := range kustomizes {
		out = append(out, k)
	}
	if common != nil {
		out = append(out, *common)
	}
	return append(out, OriginLabels{Namespace: namespace, Name: name})
}

// chain runs post-renderers in order.
type chain []PostRenderer

func (c chain) Run(rendered *bytes.Buffer) (*bytes.Buffer, error) {
	var err error
	for _, p := range c {
		if rendered, err = p.Run(rendered); err != nil {
			return nil, err
		}
	}
	return rendered, nil
}

// labelFilter sets labels in metadata only, as Flux's common metadata and
// origin labels do (not in selectors or pod templates).
func labelFilter(m map[string]string) kio.Filter {
	return labels.Filter{
		Labels:  m,
		FsSlice: []kustypes.FieldSpec{{Path: "metadata/labels", CreateIfNotPresent: true}},
	}
}

func transform(rendered *bytes.Buffer, ts ...kio.Filter) (out *bytes.Buffer, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("post-renderer: kustomize failed: %v", r)
		}
	}()
	f := resmap.NewFactory(provider.NewDefaultDepProvider().GetResourceFactory())
	rm, err := f.NewResMapFromBytes(rendered.Bytes())
	if err != nil {
		return nil, fmt.Errorf("post-renderer: %w", err)
	}
	for _, t := range ts {
		if err := rm.ApplyFilter(t); err != nil {
			return nil, fmt.Errorf("post-renderer: %w", err)
		}
	}
	y, err := rm.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("post-renderer: %w", err)
	}
	return bytes.NewBuffer(y), nil
}

func resIDOf(t *kustomize.Selector) resid.ResId {
	return resid.ResId{Gvk: resid.Gvk{Group: t.Group, Version: t.Version, Kind: t.Kind}, Name: t.Name, Namespace: t.Namespace}
}
