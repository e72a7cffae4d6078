package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// statusKinds are the kinds of the status table, in the order of
// `flux get all`, with the status field shown as their revision.
func statusKinds() []statusKind {
	return []statusKind{
		{gvk("source.toolkit.fluxcd.io/v1", "GitRepository"), artifactRevision},
		{gvk("source.toolkit.fluxcd.io/v1", "OCIRepository"), artifactRevision},
		{gvk("source.toolkit.fluxcd.io/v1", "HelmRepository"), artifactRevision},
		{gvk("source.toolkit.fluxcd.io/v1", "HelmChart"), artifactRevision},
		{gvk("kustomize.toolkit.fluxcd.io/v1", "Kustomization"), field("status", "lastAppliedRevision")},
		{gvk("helm.toolkit.fluxcd.io/v2", "HelmRelease"), helmRevision},
		{gvk("image.toolkit.fluxcd.io/v1", "ImageRepository"), scanRevision},
		{gvk("image.toolkit.fluxcd.io/v1", "ImagePolicy"), policyRevision},
		{gvk("image.toolkit.fluxcd.io/v1", "ImageUpdateAutomation"), pushRevision},
		{gvk("notification.toolkit.fluxcd.io/v1", "Receiver"), webhookRevision},
	}
}

// statusKind is a kind of the status table.
type statusKind struct {
	gvk      schema.GroupVersionKind
	revision func(u *unstructured.Unstructured) string
}

func gvk(apiVersion, kind string) schema.GroupVersionKind {
	return schema.FromAPIVersionAndKind(apiVersion, kind)
}

// row is one object of the status table.
type row struct {
	// Name is "<kind>/<name>".
	Name, Revision, Ready, Message string
	Suspended                      bool
	// Current is true when Ready is True for the object's generation.
	Current bool
}

// statusRows lists the Flux objects of namespace ns.
func statusRows(ctx context.Context, c client.Reader, ns string) ([]row, error) {
	var rows []row
	for _, k := range statusKinds() {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
		if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
			return nil, fmt.Errorf("listing %ss: %w", k.gvk.Kind, err)
		}
		for i := range list.Items {
			u := &list.Items[i]
			suspended, _, _ := unstructured.NestedBool(u.Object, "spec", "suspend")
			r := row{Name: strings.ToLower(k.gvk.Kind) + "/" + u.GetName(), Revision: k.revision(u), Suspended: suspended}
			r.Ready, r.Message, r.Current = readyColumns(u)
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// readyColumns reads the Ready condition of an object.
func readyColumns(u *unstructured.Unstructured) (status, message string, current bool) {
	raw, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var conds []metav1.Condition
	for _, c := range raw {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		var cond metav1.Condition
		if runtime.DefaultUnstructuredConverter.FromUnstructured(m, &cond) == nil {
			conds = append(conds, cond)
		}
	}
	c := apimeta.FindStatusCondition(conds, meta.ReadyCondition)
	if c == nil {
		return "Unknown", "waiting to be reconciled", false
	}
	observed, found, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	current = c.Status == metav1.ConditionTrue && (!found || observed == u.GetGeneration())
	return string(c.Status), c.Message, current
}

// writeTable prints rows like `flux get all -A`.
func writeTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREVISION\tSUSPENDED\tREADY\tMESSAGE")
	for _, r := range rows {
		msg := r.Message
		if len(msg) > 80 {
			msg = msg[:77] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%t\t%s\t%s\n", r.Name, shortRevision(r.Revision), r.Suspended, r.Ready, msg)
	}
	tw.Flush()
}

// shortRevision shortens "main@sha1:<40 hex>" to "main@sha1:<8 hex>" (and
// sha256 digests alike), as the flux CLI prints revisions.
func shortRevision(rev string) string {
	at := strings.LastIndex(rev, ":")
	if at < 0 || !strings.HasPrefix(rev[strings.LastIndex(rev[:at], "@")+1:], "sha") || len(rev)-at-1 <= 8 {
		return rev
	}
	return rev[:at+9]
}

func field(path ...string) func(u *unstructured.Unstructured) string {
	return func(u *unstructured.Unstructured) string {
		s, _, _ := unstructured.NestedString(u.Object, path...)
		return s
	}
}

func artifactRevision(u *unstructured.Unstructured) string {
	return field("status", "artifact", "revision")(u)
}

// helmRevision is the chart version of the latest release, as `flux get
// helmreleases` shows.
func helmRevision(u *unstructured.Unstructured) string {
	history, _, _ := unstructured.NestedSlice(u.Object, "status", "history")
	if len(history) > 0 {
		if h, ok := history[0].(map[string]any); ok {
			v, _, _ := unstructured.NestedString(h, "chartVersion")
			n, _, _ := unstructured.NestedInt64(h, "version")
			if v != "" {
				return fmt.Sprintf("%s (v%d)", v, n)
			}
		}
	}
	return field("status", "lastAttemptedRevision")(u)
}

func scanRevision(u *unstructured.Unstructured) string {
	n, found, _ := unstructured.NestedInt64(u.Object, "status", "lastScanResult", "tagCount")
	if !found {
		return ""
	}
	return fmt.Sprintf("%d tags", n)
}

func policyRevision(u *unstructured.Unstructured) string {
	name := field("status", "latestRef", "name")(u)
	tag := field("status", "latestRef", "tag")(u)
	if tag == "" {
		return ""
	}
	return name[strings.LastIndex(name, "/")+1:] + ":" + tag
}

func pushRevision(u *unstructured.Unstructured) string {
	if c := field("status", "lastPushCommit")(u); c != "" {
		return "pushed sha1:" + c[:min(8, len(c))]
	}
	return ""
}

// webhookRevision is the start of the Receiver's webhook path.
func webhookRevision(u *unstructured.Unstructured) string {
	p := field("status", "webhookPath")(u)
	if len(p) > 20 {
		p = p[:20] + "..."
	}
	return p
}
