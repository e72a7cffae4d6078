package notify_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gitopskit/gitopskit/notify"
)

// ExampleMatcher matches an event against Alerts the way Flux's
// notification-controller does, gates it for a commit-status provider,
// and composes the notification a provider delivers.
func ExampleMatcher() {
	var rules []*notify.Rule
	for _, a := range []notify.Alert{
		{Namespace: "flux-system", Name: "all", EventSources: []notify.EventSource{{Kind: "Kustomization", Name: "*"}},
			ExclusionList: []string{"no changes$"}, EventMetadata: map[string]string{"cluster": "prod-eu"}},
		{Namespace: "flux-system", Name: "errors", EventSeverity: notify.SeverityError,
			EventSources: []notify.EventSource{{Kind: "Kustomization", Name: "*"}}},
		{Namespace: "flux-system", Name: "team-a", EventSources: []notify.EventSource{{Kind: "Kustomization", Name: "*", MatchLabels: map[string]string{"team": "a"}}}},
	} {
		r, err := notify.Compile(a)
		if err != nil {
			panic(err)
		}
		rules = append(rules, r)
	}
	labels := notify.LabelerFunc(func(_ context.Context, o notify.ObjectReference) (map[string]string, error) {
		return map[string]string{"team": "a"}, nil // a controller reads these from its cache
	})
	m := notify.NewMatcher(rules, notify.MatcherOptions{Labeler: labels})

	e := notify.Event{
		InvolvedObject: notify.ObjectReference{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Namespace: "flux-system", Name: "apps"},
		Severity:       notify.SeverityInfo,
		Message:        "Reconciliation finished in 2s, next run in 10m0s",
		Reason:         "ReconciliationSucceeded",
		Metadata: map[string]string{
			"kustomize.toolkit.fluxcd.io/revision":      "main@sha1:0123abc",
			"kustomize.toolkit.fluxcd.io/commit_status": "update",
		},
		ReportingController: "kustomize-controller",
	}
	matched, err := m.Match(context.Background(), e)
	if err != nil {
		panic(err)
	}
	for _, r := range matched {
		n, _, err := r.Notification(e)
		if err != nil {
			panic(err)
		}
		rev, _ := notify.Revision(n)
		fmt.Println(r.Alert().Name, n.Metadata["cluster"], rev,
			"github:", notify.Admit(notify.ClassOf("github"), e), "slack:", notify.Admit(notify.ClassOf("slack"), e))
	}
	// Output:
	// all prod-eu main@sha1:0123abc github: deliver slack: skip: commit status update
	// team-a  main@sha1:0123abc github: deliver slack: skip: commit status update
}

// ExampleRule_Notification words a notification with an Alert template.
func ExampleRule_Notification() {
	r, err := notify.Compile(notify.Alert{
		Namespace:    "flux-system",
		Name:         "chat",
		EventSources: []notify.EventSource{{Kind: "HelmRelease", Name: "*"}},
		Template:     `{{if eq .Severity "error"}}FAILED{{else}}ok{{end}} {{lower .InvolvedObject.Kind}}/{{.InvolvedObject.Name}} at {{trunc 16 .Metadata.revision}}: {{.Message}}`,
	})
	if err != nil {
		panic(err)
	}
	n, _, err := r.Notification(notify.Event{
		InvolvedObject: notify.ObjectReference{APIVersion: "helm.toolkit.fluxcd.io/v2", Kind: "HelmRelease", Namespace: "flux-system", Name: "podinfo"},
		Severity:       notify.SeverityError,
		Message:        "Helm upgrade failed: timed out",
		Reason:         "UpgradeFailed",
		Metadata:       map[string]string{"helm.toolkit.fluxcd.io/revision": "6.5.0+0123456789ab"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(n.Message)
	// Output: FAILED helmrelease/podinfo at 6.5.0+0123456789: Helm upgrade failed: timed out
}

// ExampleNewHandler serves Flux's event protocol and fans received events
// out to two recorders.
func ExampleNewHandler() {
	var got []string
	log := notify.RecorderFunc(func(_ context.Context, e notify.Event) error {
		got = append(got, e.Reason)
		return nil
	})
	h := notify.NewHandler(notify.MultiRecorder(log, notify.RecorderFunc(func(context.Context, notify.Event) error { return nil })),
		notify.WithDeduplicator(notify.NewDeduplicator(notify.DefaultDedupWindow, nil)))
	body := `{"involvedObject":{"kind":"GitRepository","namespace":"flux-system","name":"repo","apiVersion":"source.toolkit.fluxcd.io/v1"},` +
		`"severity":"error","timestamp":"2026-01-02T03:04:05Z","message":"clone failed","reason":"GitOperationFailed","reportingController":"source-controller"}`
	for range 2 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)))
		fmt.Println(w.Code)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"severity":"info"}`)))
	fmt.Print(w.Code, " ", w.Body.String())
	fmt.Println(got)
	// Output:
	// 202
	// 429
	// 400 invalid event: involvedObject.kind: required
	// [GitOperationFailed]
}
