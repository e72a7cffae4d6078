package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// shortRevision shortens "main@sha1:<40 hex>" to "main@sha1:<8 hex>", as
// the flux CLI prints it.
func shortRevision(rev string) string {
	at := strings.LastIndex(rev, ":")
	if at < 0 || len(rev)-at-1 <= 8 {
		return rev
	}
	return rev[:at+9]
}

func readyColumns(conds []metav1.Condition) (string, string) {
	c := apimeta.FindStatusCondition(conds, meta.ReadyCondition)
	if c == nil {
		return "Unknown", "waiting to be reconciled"
	}
	msg := c.Message
	if len(msg) > 90 {
		msg = msg[:87] + "..."
	}
	return string(c.Status), msg
}

// writeSources prints GitRepositories like `flux get sources git`.
func writeSources(w io.Writer, repos []sourcev1.GitRepository) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREVISION\tSUSPENDED\tREADY\tMESSAGE")
	for _, r := range repos {
		rev := ""
		if r.Status.Artifact != nil {
			rev = shortRevision(r.Status.Artifact.Revision)
		}
		ready, msg := readyColumns(r.Status.Conditions)
		fmt.Fprintf(tw, "%s\t%s\t%t\t%s\t%s\n", r.Name, rev, r.Spec.Suspend, ready, msg)
	}
	tw.Flush()
}

// writeKustomizations prints Kustomizations like `flux get kustomizations`.
func writeKustomizations(w io.Writer, ks []kustomizev1.Kustomization) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREVISION\tSUSPENDED\tREADY\tMESSAGE")
	for _, k := range ks {
		ready, msg := readyColumns(k.Status.Conditions)
		fmt.Fprintf(tw, "%s\t%s\t%t\t%s\t%s\n", k.Name, shortRevision(k.Status.LastAppliedRevision), k.Spec.Suspend, ready, msg)
	}
	tw.Flush()
}
