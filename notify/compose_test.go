package notify

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func asValidation(err error, target **ValidationError) bool { return errors.As(err, target) }

func TestNotificationMetadataPrecedence(t *testing.T) {
	r := mustCompile(t, Alert{Namespace: "ns", Name: "a", Summary: "from summary",
		EventMetadata: map[string]string{"env": "from alert", "summary": "alert summary", "revision": "alert rev", "cluster": "c1"},
		EventSources:  []EventSource{{Kind: "Kustomization", Name: "*"}}})
	e := withMeta(ev("Kustomization", "ns", "x", "info", "m"), map[string]string{
		EventGroup + "/env":     "from annotation",
		EventGroup + "/team":    "from annotation",
		EventGroup + "/cluster": "from annotation",
		kgroup + "/revision":    "main@sha1:1",
		kgroup + "/token":       "secret-token",
		kgroup + "/digest":      "sha256:0",
		"unrelated.io/key":      "dropped",
	})
	n, conflicts, err := r.Notification(e)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"env":      "from alert",
		"team":     "from annotation",
		"cluster":  "c1",
		"summary":  "from summary",
		"revision": "main@sha1:1",
	}
	if diff := cmp.Diff(want, n.Metadata); diff != "" {
		t.Fatalf("metadata (-want +got):\n%s", diff)
	}
	wantC := []MetadataConflict{
		{Key: "cluster", Sources: []string{SourceObjectAnnotations, SourceAlertEventMetadata}},
		{Key: "env", Sources: []string{SourceObjectAnnotations, SourceAlertEventMetadata}},
		{Key: "revision", Sources: []string{SourceAlertEventMetadata, SourceControllerMetadata}},
		{Key: "summary", Sources: []string{SourceAlertEventMetadata, SourceAlertSummary}},
	}
	if diff := cmp.Diff(wantC, conflicts); diff != "" {
		t.Fatalf("conflicts (-want +got):\n%s", diff)
	}
	if n.Message != "m" {
		t.Fatalf("message changed without a template: %q", n.Message)
	}
	if e.Metadata[kgroup+"/token"] != "secret-token" {
		t.Fatal("input modified")
	}
}

func TestNotificationBareKeysBelowPrefixed(t *testing.T) {
	r := mustCompile(t, Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}})
	n, conflicts, err := r.Notification(withMeta(ev("Kustomization", "ns", "x", "info", "m"), map[string]string{
		"revision": "bare", kgroup + "/revision": "prefixed", "originRevision": "o",
	}))
	if err != nil || len(conflicts) != 0 {
		t.Fatal(err, conflicts)
	}
	if diff := cmp.Diff(map[string]string{"revision": "prefixed", "originRevision": "o"}, n.Metadata); diff != "" {
		t.Fatal(diff)
	}
	n, _, _ = r.Notification(ev("Kustomization", "ns", "x", "info", "m"))
	if n.Metadata != nil {
		t.Fatalf("metadata = %v", n.Metadata)
	}
}

func TestTemplates(t *testing.T) {
	e := withMeta(ev("Kustomization", "flux-system", "apps", "error", "Health check failed"), map[string]string{
		kgroup + "/revision": "main@sha1:0123456789abcdef", EventGroup + "/env": "prod",
	})
	e.Timestamp = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name, tmpl, want string
	}{
		{"fields", `{{.InvolvedObject.Kind}}/{{.InvolvedObject.Namespace}}/{{.InvolvedObject.Name}} [{{.Severity}}] {{.Message}}`, "Kustomization/flux-system/apps [error] Health check failed"},
		{"metadata", `{{.Metadata.revision}} in {{.Metadata.env}}`, "main@sha1:0123456789abcdef in prod"},
		{"missing key", `[{{.Metadata.nope}}]`, "[]"},
		{"alert", `{{.Alert.Namespace}}/{{.Alert.Name}}`, "team/on-call"},
		{"funcs", `{{upper .Severity}} {{lower .InvolvedObject.Kind}} {{trunc 6 .Message}} {{replace "failed" "ok" .Message}} {{default "none" .Metadata.nope}} {{.Message | trimPrefix "Health "}} {{quote .Reason}}`, `ERROR kustomization Health Health check ok none check failed "ReconciliationSucceeded"`},
		{"printf", `{{printf "%-8s|%.4s" .Severity .Message}}`, "error   |Heal"},
		{"range metadata", `{{range $k, $v := .Metadata}}{{$k}}={{$v}};{{end}}`, "env=prod;revision=main@sha1:0123456789abcdef;"},
		{"if", `{{if eq .Severity "error"}}🚨{{else}}✅{{end}}`, "🚨"},
		{"time", `{{.Timestamp.Format "2006-01-02"}}`, "2026-01-02"},
		{"toJSON", `{{toJSON .Metadata}}`, `{"env":"prod","revision":"main@sha1:0123456789abcdef"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustCompile(t, Alert{Namespace: "team", Name: "on-call", Template: tt.tmpl, EventSources: []EventSource{{Kind: "Kustomization", Name: "*", Namespace: "flux-system"}}})
			n, _, err := r.Notification(e)
			if err != nil {
				t.Fatal(err)
			}
			if n.Message != tt.want {
				t.Fatalf("got %q, want %q", n.Message, tt.want)
			}
		})
	}
}

func TestTemplateRefusals(t *testing.T) {
	tests := []struct{ name, tmpl, want string }{
		{"call", `{{call .Foo}}`, `function "call" is not allowed`},
		{"unknown func", `{{env "HOME"}}`, `function "env" not defined`},
		{"define", `{{define "x"}}a{{end}}{{template "x"}}`, "define and block are not allowed"},
		{"block", `{{block "x" .}}a{{end}}`, "define and block are not allowed"},
		{"template", `{{template "y"}}`, "template actions are not allowed"},
		{"range int", `{{range 1000000000}}{{end}}`, "range may only iterate over .Metadata"},
		{"range var", `{{$n := 5}}{{range $n}}{{end}}`, "range may only iterate over .Metadata"},
		{"range method", `{{range .Timestamp.UnixNano}}{{end}}`, "range may only iterate over .Metadata"},
		{"nested range", `{{range .Metadata}}{{range $.Metadata}}{{end}}{{end}}`, "nested range is not allowed"},
		{"too large", strings.Repeat("a", MaxTemplateSize+1), "exceed the maximum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(Alert{Namespace: "ns", Template: tt.tmpl, EventSources: []EventSource{{Kind: "K", Name: "*"}}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestTemplateRuntimeBounds(t *testing.T) {
	e := ev("Kustomization", "ns", "x", "info", strings.Repeat("x", 1000))
	tests := []struct{ name, tmpl, want string }{
		{"output cap", strings.Repeat("{{.Message}}", 200), ErrTemplateOutputTooLarge.Error()},
		{"printf width", `{{printf "%01000000d" 1}}`, "width or precision over"},
		{"printf star", `{{printf "%*d" 100000 1}}`, "* width"},
		{"replace blowup", `{{replace "" .Message .Message}}`, ErrTemplateOutputTooLarge.Error()},
		{"print args", `{{print 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17}}`, "at most 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustCompile(t, Alert{Namespace: "ns", Name: "a", Template: tt.tmpl, MaxMessageBytes: 100000, EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}})
			n, _, err := r.Notification(e)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if n.Message != e.Message {
				t.Fatal("message replaced despite error")
			}
		})
	}
}
