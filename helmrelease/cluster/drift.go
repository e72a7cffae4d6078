package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"helm.sh/helm/v4/pkg/kube"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/gitopskit/gitopskit/reconcile"
)

// DriftDetectionAnnotation set to "disabled" on an object of a release
// leaves it out of drift detection and correction, as in Flux.
const DriftDetectionAnnotation = "helm.toolkit.fluxcd.io/driftDetection"

// HelmFieldManager returns the field manager Helm applies release objects
// with in this program: kube.ManagedFieldsManager when the program set it
// (Flux sets its controller's name), else the program's base name. The
// reconcile.Manager given to Drift must use it, so that a dry-run of an
// unchanged object is a no-op.
func HelmFieldManager() string {
	if kube.ManagedFieldsManager != "" {
		return kube.ManagedFieldsManager
	}
	if len(os.Args) == 0 || os.Args[0] == "" {
		return "unknown"
	}
	return filepath.Base(os.Args[0])
}

// DriftReport lists the objects of a release that differ from the
// cluster: Changes has one entry per drifted object (Action "created" for
// a deleted object, "configured" for a modified one; Live and Merged show
// the difference, Secret values masked).
type DriftReport struct {
	// Release is the name and revision diffed.
	Release  string
	Revision int
	Changes  []reconcile.DiffResult
	// objects are the desired objects of the drifted entries.
	objects []*unstructured.Unstructured
}

// Drifted reports whether anything drifted.
func (d DriftReport) Drifted() bool { return len(d.Changes) > 0 }

// Summary is "<kind>/<namespace>/<name> <action>" per change, for
// messages and events.
func (d DriftReport) Summary() string {
	var b strings.Builder
	for i, c := range d.Changes {
		if i > 0 {
			b.WriteString("\n")
		}
		r := c.Entry.Ref
		fmt.Fprintf(&b, "%s/%s/%s %s", r.Kind, r.Namespace, r.Name, c.Entry.Action)
	}
	return b.String()
}

// Drift compares the objects of the release's manifest with the cluster
// through m's server-side dry-run (reconcile.Manager.Diff: m's IgnoreRules
// are Flux's spec.driftDetection.ignore), skipping objects annotated
// DriftDetectionAnnotation: disabled. m must apply with HelmFieldManager()
// and the same identity as the Client.
func (c *Client) Drift(ctx context.Context, rel *Release, m *reconcile.Manager) (DriftReport, error) {
	if rel == nil {
		return DriftReport{}, errors.New("drift: no release")
	}
	objs, err := c.manifestObjects(rel, true)
	if err != nil {
		return DriftReport{}, fmt.Errorf("drift of %s: %w", rel.Name, err)
	}
	report := DriftReport{Release: rel.Name, Revision: rel.Revision}
	results, err := m.Diff(ctx, objs)
	for i, r := range results {
		if r.Entry.Action == reconcile.Unchanged || r.Entry.Action == reconcile.Skipped {
			continue
		}
		report.Changes = append(report.Changes, r)
		report.objects = append(report.objects, objectFor(objs, r.Entry.Ref, i))
	}
	if err != nil {
		return report, fmt.Errorf("drift of %s: %w", rel.Name, err)
	}
	return report, nil
}

// CorrectDrift re-applies the drifted objects of report with m (Flux's
// driftDetection mode "enabled").
func (c *Client) CorrectDrift(ctx context.Context, report DriftReport, m *reconcile.Manager) (reconcile.ChangeSet, error) {
	var objs []*unstructured.Unstructured
	for _, o := range report.objects {
		if o != nil {
			objs = append(objs, o)
		}
	}
	if len(objs) == 0 {
		return reconcile.ChangeSet{}, nil
	}
	cs, err := m.Apply(ctx, objs)
	if err != nil {
		return cs, fmt.Errorf("correct drift of %s: %w", report.Release, err)
	}
	return cs, nil
}

// objectFor finds the object of ref (the diff keeps the input order, so
// index i is tried first).
func objectFor(objs []*unstructured.Unstructured, ref reconcile.ObjectRef, i int) *unstructured.Unstructured {
	match := func(o *unstructured.Unstructured) bool {
		return o.GetKind() == ref.Kind && o.GetName() == ref.Name && o.GetNamespace() == ref.Namespace
	}
	if i < len(objs) && match(objs[i]) {
		return objs[i]
	}
	for _, o := range objs {
		if match(o) {
			return o
		}
	}
	return nil
}

// manifestObjects decodes a release manifest as Helm applies it: the
// release namespace on namespaced objects without one, Helm's ownership
// label and annotations; with driftOnly, objects that opt out of drift
// detection are left out.
func (c *Client) manifestObjects(rel *Release, driftOnly bool) ([]*unstructured.Unstructured, error) {
	mapper, err := c.getter.ToRESTMapper()
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(rel.Manifest), 4096)
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
		o := &unstructured.Unstructured{Object: m}
		if driftOnly && o.GetAnnotations()[DriftDetectionAnnotation] == "disabled" {
			continue
		}
		// The ownership metadata Helm adds when it applies.
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels["app.kubernetes.io/managed-by"] = "Helm"
		o.SetLabels(labels)
		ann := o.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann["meta.helm.sh/release-name"] = rel.Name
		ann["meta.helm.sh/release-namespace"] = rel.Namespace
		o.SetAnnotations(ann)
		if o.GetNamespace() == "" {
			gvk := o.GroupVersionKind()
			mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", gvk.Kind, o.GetName(), err)
			}
			if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
				o.SetNamespace(c.namespace)
			}
		}
		out = append(out, o)
	}
}

// WaitHealthy waits until the objects of the release's manifest are
// healthy by reconcile's rules (kstatus, Flux's Job rule, the CEL health
// expressions of m): for actions run with Wait.Disable, so that a release
// is judged healthy as a Kustomization is. It returns reconcile's
// *HealthError naming each unhealthy object.
func (c *Client) WaitHealthy(ctx context.Context, rel *Release, m *reconcile.Manager, opts reconcile.WaitOptions) error {
	if rel == nil {
		return errors.New("wait: no release")
	}
	objs, err := c.manifestObjects(rel, false)
	if err != nil {
		return fmt.Errorf("wait for %s: %w", rel.Name, err)
	}
	if err := m.Wait(ctx, reconcile.InventoryOf(objs), opts); err != nil {
		return fmt.Errorf("wait for %s: %w", rel.Name, err)
	}
	return nil
}
