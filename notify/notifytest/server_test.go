package notifytest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/notify"
)

func event(msg string) notify.Event {
	return notify.Event{
		InvolvedObject:      notify.ObjectReference{APIVersion: "source.toolkit.fluxcd.io/v1", Kind: "GitRepository", Namespace: "ns", Name: "repo"},
		Severity:            notify.SeverityError,
		Message:             msg,
		Reason:              "GitOperationFailed",
		ReportingController: "source-controller",
	}
}

func TestServerRetriesAndDedup(t *testing.T) {
	srv := NewServer(WithDeduplication(time.Minute))
	defer srv.Close()
	srv.FailNext(http.StatusServiceUnavailable)
	rec, err := notify.NewHTTPRecorder(srv.URL, notify.WithBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := rec.Record(ctx, event("clone failed")); err != nil {
		t.Fatal(err)
	}
	if err := rec.Record(ctx, event("clone failed")); err != nil {
		t.Fatal(err) // 429 counts as delivered
	}
	if err := rec.Record(ctx, event("auth failed")); err != nil {
		t.Fatal(err)
	}
	got, err := srv.Recorder().Wait(ctx, 2)
	if err != nil || len(got) != 2 || got[0].Message != "clone failed" || got[1].Message != "auth failed" {
		t.Fatalf("events %+v, err %v", got, err)
	}
	var statuses []int
	for _, r := range srv.Requests() {
		statuses = append(statuses, r.Status)
	}
	want := []int{503, 202, 429, 202}
	if len(statuses) != len(want) {
		t.Fatalf("statuses %v", statuses)
	}
	for i := range want {
		if statuses[i] != want[i] {
			t.Fatalf("statuses %v, want %v", statuses, want)
		}
	}
}

func TestRecorderWait(t *testing.T) {
	var r Recorder
	go func() {
		time.Sleep(10 * time.Millisecond)
		_ = r.Record(context.Background(), event("a"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ev, err := r.Wait(ctx, 1); err != nil || len(ev) != 1 {
		t.Fatal(ev, err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if _, err := r.Wait(short, 5); err == nil {
		t.Fatal("no timeout")
	}
	r.Reset()
	if r.Len() != 0 {
		t.Fatal("not reset")
	}
}
