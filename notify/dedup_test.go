package notify

import (
	"testing"
	"time"
)

func TestDedupKeyIdentity(t *testing.T) {
	base := withMeta(ev("Kustomization", "ns", "x", "info", "m"), map[string]string{kgroup + "/revision": "r1"})
	k := DedupKey(base)
	same := func(mod func(*Event)) bool {
		e := base
		e.Metadata = map[string]string{}
		for k, v := range base.Metadata {
			e.Metadata[k] = v
		}
		mod(&e)
		return DedupKey(e) == k
	}
	tests := []struct {
		name string
		mod  func(*Event)
		same bool
	}{
		{"severity ignored", func(e *Event) { e.Severity = "error" }, true},
		{"reason ignored", func(e *Event) { e.Reason = "Other" }, true},
		{"timestamp ignored", func(e *Event) { e.Timestamp = time.Unix(1, 0) }, true},
		{"controller ignored", func(e *Event) { e.ReportingController = "x" }, true},
		{"other metadata ignored", func(e *Event) { e.Metadata[EventGroup+"/env"] = "prod" }, true},
		{"name counts", func(e *Event) { e.InvolvedObject.Name = "y" }, false},
		{"namespace counts", func(e *Event) { e.InvolvedObject.Namespace = "y" }, false},
		{"kind counts", func(e *Event) { e.InvolvedObject.Kind = "GitRepository" }, false},
		{"message counts", func(e *Event) { e.Message = "n" }, false},
		{"revision counts", func(e *Event) { e.Metadata[kgroup+"/revision"] = "r2" }, false},
		{"origin revision counts", func(e *Event) { e.Metadata[kgroup+"/originRevision"] = "o" }, false},
		{"token counts", func(e *Event) { e.Metadata[kgroup+"/token"] = "t" }, false},
		{"bare revision is the controller's", func(e *Event) {
			delete(e.Metadata, kgroup+"/revision")
			e.Metadata["revision"] = "r1"
		}, true},
	}
	for _, tt := range tests {
		if got := same(tt.mod); got != tt.same {
			t.Errorf("%s: same key = %v", tt.name, got)
		}
	}
}

func TestDeduplicatorWindows(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 30, 0, 0, time.UTC)
	now := start
	d := NewDeduplicator(0, func() time.Time { return now })
	e := ev("Kustomization", "ns", "x", "info", "m")
	other := ev("Kustomization", "ns", "y", "info", "m")
	steps := []struct {
		at    time.Duration
		e     Event
		allow bool
	}{
		{0, e, true},
		{time.Minute, e, false},
		{time.Minute, other, true},
		{4*time.Minute + 59*time.Second, e, false},
		{6 * time.Minute, e, true},  // second window [5m,10m) from first sight
		{9 * time.Minute, e, false}, // still in it
		{10*time.Minute + time.Second, e, true},
		{30 * time.Minute, e, true}, // forgotten after idling, new bucket
		{31 * time.Minute, e, false},
	}
	for i, s := range steps {
		now = start.Add(s.at)
		if got := d.Allow(s.e); got != s.allow {
			t.Fatalf("step %d at %v: Allow = %v, want %v", i, s.at, got, s.allow)
		}
	}
	now = start.Add(2 * time.Hour)
	d.Allow(other)
	if d.Len() != 1 {
		t.Fatalf("idle keys kept: %d", d.Len())
	}
}
