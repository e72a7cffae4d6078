package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gitopskit/gitopskit/notify"
)

// Example records an event through a Recorder and shows its wire form.
func Example() {
	var rec notify.Recorder = notify.RecorderFunc(func(_ context.Context, e notify.Event) error {
		b, _ := json.Marshal(e)
		fmt.Println(string(b))
		return nil
	})
	_ = rec.Record(context.Background(), notify.Event{
		InvolvedObject:      notify.ObjectReference{Kind: "Kustomization", Namespace: "flux-system", Name: "apps"},
		Severity:            notify.SeverityInfo,
		Timestamp:           time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Message:             "Reconciliation finished",
		Reason:              "ReconciliationSucceeded",
		Metadata:            map[string]string{notify.MetaRevisionKey: "main@sha1:0123abc"},
		ReportingController: "kustomize-controller",
	})
	// Output:
	// {"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"apps"},"severity":"info","timestamp":"2026-01-02T03:04:05Z","message":"Reconciliation finished","reason":"ReconciliationSucceeded","metadata":{"revision":"main@sha1:0123abc"},"reportingController":"kustomize-controller"}
}
