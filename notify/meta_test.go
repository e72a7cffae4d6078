package notify

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

const kgroup = "kustomize.toolkit.fluxcd.io"

func withMeta(e Event, m map[string]string) Event { e.Metadata = m; return e }

func TestObjectGroup(t *testing.T) {
	for in, want := range map[string]string{"kustomize.toolkit.fluxcd.io/v1": kgroup, "v1": "", "": "", "apps/v1": "apps"} {
		if got := ObjectGroup(ObjectReference{APIVersion: in}); got != want {
			t.Errorf("ObjectGroup(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQualifyAndNormalize(t *testing.T) {
	e := withMeta(ev("Kustomization", "ns", "x", "info", "m"), map[string]string{
		"revision":                 "bare",
		kgroup + "/revision":       "main@sha1:1",
		"commit_status":            "update",
		EventGroup + "/env":        "prod",
		kgroup + "/token":          "t",
		kgroup + "/Checksum":       "c",
		kgroup + "/digest":         "d",
		"other.example.com/x":      "dropped",
		"source.toolkit.fluxcd.io": "kept bare",
	})
	q := Qualify(e)
	want := map[string]string{
		kgroup + "/revision":                      "main@sha1:1",
		kgroup + "/commit_status":                 "update",
		EventGroup + "/env":                       "prod",
		kgroup + "/token":                         "t",
		kgroup + "/Checksum":                      "c",
		kgroup + "/digest":                        "d",
		"other.example.com/x":                     "dropped",
		kgroup + "/" + "source.toolkit.fluxcd.io": "kept bare",
	}
	if diff := cmp.Diff(want, q.Metadata); diff != "" {
		t.Fatalf("Qualify (-want +got):\n%s", diff)
	}
	if e.Metadata["revision"] != "bare" {
		t.Fatal("Qualify modified its input")
	}
	n := Normalize(q)
	wantN := map[string]string{
		kgroup + "/revision":                      "main@sha1:1",
		kgroup + "/commit_status":                 "update",
		EventGroup + "/env":                       "prod",
		kgroup + "/" + "source.toolkit.fluxcd.io": "kept bare",
	}
	if diff := cmp.Diff(wantN, n.Metadata); diff != "" {
		t.Fatalf("Normalize (-want +got):\n%s", diff)
	}
	// Bare keys survive Normalize as controller keys; bare token does not.
	n2 := Normalize(withMeta(ev("Kustomization", "ns", "x", "info", "m"), map[string]string{"revision": "r", "token": "t"}))
	if diff := cmp.Diff(map[string]string{"revision": "r"}, n2.Metadata); diff != "" {
		t.Fatal(diff)
	}
	// No group: nothing to qualify.
	core := Event{InvolvedObject: ObjectReference{Kind: "ConfigMap", APIVersion: "v1"}, Metadata: map[string]string{"a": "b"}}
	if diff := cmp.Diff(core.Metadata, Qualify(core).Metadata); diff != "" {
		t.Fatal(diff)
	}
}

func TestAdmit(t *testing.T) {
	base := ev("Kustomization", "ns", "x", "info", "m")
	update := withMeta(base, map[string]string{kgroup + "/commit_status": "update", kgroup + "/revision": "main@sha1:1"})
	withCommit := withMeta(base, map[string]string{EventGroup + "/commit": "abc"})
	withRevisionOnly := withMeta(base, map[string]string{kgroup + "/revision": "main@sha1:1"})
	errEvent := ev("Kustomization", "ns", "x", "error", "m")
	withCR := withMeta(base, map[string]string{EventGroup + "/change_request": "42"})
	tests := []struct {
		name     string
		provider string
		e        Event
		want     Verdict
	}{
		{"slack plain", "slack", base, Deliver},
		{"slack skips commit status update", "slack", update, SkipCommitStatusUpdate},
		{"generic gets commit status update", "generic", update, Deliver},
		{"generic-hmac gets commit status update", "generic-hmac", update, Deliver},
		{"github gets commit status update", "github", update, Deliver},
		{"github gets commit annotation", "github", withCommit, Deliver},
		{"github gets errors", "github", errEvent, Deliver},
		{"github drops revision-only info", "github", withRevisionOnly, DropNoCommit},
		{"gitlab drops plain", "gitlab", base, DropNoCommit},
		{"azuredevops drops plain", "azuredevops", base, DropNoCommit},
		{"bitbucketserver gets update", "bitbucketserver", update, Deliver},
		{"pr comment needs change request", "githubpullrequestcomment", base, DropNoChangeRequest},
		{"pr comment with change request", "githubpullrequestcomment", withCR, Deliver},
		{"mr comment with change request", "gitlabmergerequestcomment", withCR, Deliver},
		{"gitea pr comment skips update", "giteapullrequestcomment", update, SkipCommitStatusUpdate},
		{"bare commit_status key counts", "slack", withMeta(base, map[string]string{"commit_status": "update"}), SkipCommitStatusUpdate},
		{"object group of another kind does not count", "slack", withMeta(base, map[string]string{"source.toolkit.fluxcd.io/commit_status": "update"}), Deliver},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Admit(ClassOf(tt.provider), tt.e); got != tt.want {
				t.Fatalf("Admit = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRevisionPrecedence(t *testing.T) {
	tests := []struct {
		meta map[string]string
		want string
		ok   bool
	}{
		{map[string]string{"revision": "r", "originRevision": "o", "commit": "c"}, "c", true},
		{map[string]string{"revision": "r", "originRevision": "o"}, "o", true},
		{map[string]string{"revision": "r"}, "r", true},
		{map[string]string{"summary": "s"}, "", false},
	}
	for _, tt := range tests {
		got, ok := Revision(Event{Metadata: tt.meta})
		if got != tt.want || ok != tt.ok {
			t.Errorf("Revision(%v) = %q, %v", tt.meta, got, ok)
		}
	}
	if cr, ok := ChangeRequest(Event{Metadata: map[string]string{"change_request": "7"}}); !ok || cr != "7" {
		t.Error("ChangeRequest")
	}
}

func TestValidate(t *testing.T) {
	good := ev("Kustomization", "ns", "x", "info", "m")
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		field string
		mod   func(*Event)
	}{
		{"involvedObject.kind", func(e *Event) { e.InvolvedObject.Kind = "" }},
		{"involvedObject.name", func(e *Event) { e.InvolvedObject.Name = "" }},
		{"involvedObject.namespace", func(e *Event) { e.InvolvedObject.Namespace = "" }},
		{"severity", func(e *Event) { e.Severity = "" }},
		{"severity", func(e *Event) { e.Severity = "warning" }},
		{"reason", func(e *Event) { e.Reason = "" }},
		{"reportingController", func(e *Event) { e.ReportingController = "" }},
		{"message", func(e *Event) { e.Message = string(make([]rune, MaxMessageLength+1)) }},
	}
	for _, tt := range tests {
		e := good
		tt.mod(&e)
		err := e.Validate()
		var ve *ValidationError
		if !asValidation(err, &ve) || ve.Field != tt.field {
			t.Errorf("%s: err = %v", tt.field, err)
		}
	}
}
