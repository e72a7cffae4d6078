package notifytest_test

import (
	"context"
	"fmt"

	"github.com/gitopskit/gitopskit/notify"
	"github.com/gitopskit/gitopskit/notify/notifytest"
)

// Example points an HTTPRecorder at a recording event server and checks
// what arrived on the wire.
func Example() {
	srv := notifytest.NewServer()
	defer srv.Close()

	rec, err := notify.NewHTTPRecorder(srv.URL+"/", notify.WithReportingController("kustomize-controller"))
	if err != nil {
		panic(err)
	}
	err = rec.Record(context.Background(), notify.Event{
		InvolvedObject: notify.ObjectReference{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Namespace: "flux-system", Name: "apps"},
		Severity:       notify.SeverityInfo,
		Message:        "Reconciliation finished",
		Reason:         "ReconciliationSucceeded",
		Metadata:       map[string]string{notify.MetaRevisionKey: "main@sha1:0123abc"},
	})
	if err != nil {
		panic(err)
	}
	for _, e := range srv.Events() {
		fmt.Println(e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Severity, e.Message)
		fmt.Println(e.Metadata)
	}
	r := srv.Requests()[0]
	fmt.Println(r.Method, r.Path, r.Header.Get("Content-Type"), r.Status)
	// Output:
	// Kustomization apps info Reconciliation finished
	// map[kustomize.toolkit.fluxcd.io/revision:main@sha1:0123abc]
	// POST / application/json 202
}

// ExampleRecorder collects events in memory.
func ExampleRecorder() {
	var rec notifytest.Recorder
	var r notify.Recorder = &rec
	_ = r.Record(context.Background(), notify.Event{Reason: "Progressing", Message: "Fetching"})
	fmt.Println(rec.Len(), rec.Events()[0].Reason)
	// Output: 1 Progressing
}
