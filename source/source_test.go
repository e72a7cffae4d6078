package source_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/source"
	"github.com/google/go-cmp/cmp"
)

const sha = "0123456789abcdef0123456789abcdef01234567"
const sha256hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseRevision(t *testing.T) {
	tests := []struct {
		in      string
		want    source.Revision
		wantErr string
	}{
		{in: "main@sha1:" + sha, want: source.Revision{Name: "main", Algorithm: "sha1", Digest: sha}},
		{in: "sha1:" + sha, want: source.Revision{Algorithm: "sha1", Digest: sha}},
		{in: "v1.0.0@sha256:" + sha256hex, want: source.Revision{Name: "v1.0.0", Algorithm: "sha256", Digest: sha256hex}},
		{in: "sha256:" + sha256hex, want: source.Revision{Algorithm: "sha256", Digest: sha256hex}},
		{in: "refs/pull/1/head@sha1:" + sha, want: source.Revision{Name: "refs/pull/1/head", Algorithm: "sha1", Digest: sha}},
		{in: "feat@x@sha1:" + sha, want: source.Revision{Name: "feat@x", Algorithm: "sha1", Digest: sha}},
		{in: "main/" + sha, want: source.Revision{Name: "main", Algorithm: "sha1", Digest: sha}},
		{in: "feature/a/" + strings.ToUpper(sha), want: source.Revision{Name: "feature/a", Algorithm: "sha1", Digest: sha}},
		{in: sha, want: source.Revision{Algorithm: "sha1", Digest: sha}},
		{in: "6.0.0/" + sha256hex, want: source.Revision{Name: "6.0.0", Algorithm: "sha256", Digest: sha256hex}},
		{in: "", wantErr: "empty"},
		{in: "main@sha1:abc", wantErr: "40 hex digits"},
		{in: "main@md5:" + sha, wantErr: "unknown digest algorithm"},
		{in: "@sha1:" + sha, wantErr: "empty name"},
		{in: "main@" + sha, wantErr: "want <algorithm>:<hex>"},
		{in: "main@sha1:" + strings.ToUpper(sha), wantErr: "not lowercase hex"},
		{in: "main", wantErr: "not in the form"},
		{in: "a b@sha1:" + sha, wantErr: "whitespace"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := source.ParseRevision(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRevision(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRevision(%q): %v", tt.in, err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ParseRevision(%q) (-want +got):\n%s", tt.in, d)
			}
		})
	}
}

func TestRevisionsEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"main@sha1:" + sha, "main/" + sha, true},
		{"main@sha1:" + sha, "main@sha1:" + sha, true},
		{"sha1:" + sha, sha, true},
		{"main@sha1:" + sha, "dev@sha1:" + sha, false},
		{"main@sha1:" + sha, "sha1:" + sha, false},
		{"main@sha1:" + sha, "main@sha1:" + strings.Repeat("f", 40), false},
		{"garbage", "garbage", true},
		{"garbage", "other", false},
	}
	for _, tt := range tests {
		if got := source.RevisionsEqual(tt.a, tt.b); got != tt.want {
			t.Errorf("RevisionsEqual(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := source.RevisionsEqual(tt.b, tt.a); got != tt.want {
			t.Errorf("RevisionsEqual(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
	if !source.SameDigest("main@sha1:"+sha, "sha1:"+sha) || source.SameDigest("x", "x") {
		t.Error("SameDigest disagrees with its contract")
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		in      string
		secrets []string
		want    string
	}{
		{"clone https://user:hunter2@example.com/repo.git: 401", nil, "clone https://***@example.com/repo.git: 401"},
		{"get \"https://ghp_token@example.com/x\" failed", nil, "get \"https://***@example.com/x\" failed"},
		{"ssh://git@example.com/repo", nil, "ssh://***@example.com/repo"},
		{"bearer s3cr3t rejected", []string{"s3cr3t", ""}, "bearer *** rejected"},
		{"git@example.com:org/repo", nil, "git@example.com:org/repo"},
	}
	for _, tt := range tests {
		if got := source.Redact(tt.in, tt.secrets...); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSentinelsWrap(t *testing.T) {
	err := fmt.Errorf("fetch: %w", source.ErrAuth)
	if !errors.Is(err, source.ErrAuth) || errors.Is(err, source.ErrNotFound) {
		t.Fatal("sentinels do not behave with errors.Is")
	}
}

func TestShortMessage(t *testing.T) {
	c := source.Commit{Message: "subject line\n\nbody"}
	if got := c.ShortMessage(); got != "subject line" {
		t.Errorf("ShortMessage = %q", got)
	}
	long := source.Commit{Message: strings.Repeat("é", 80)}
	if got := []rune(long.ShortMessage()); len(got) != 53 {
		t.Errorf("ShortMessage length = %d runes, want 73", len(got))
	}
}

func FuzzParseRevision(f *testing.F) {
	for _, s := range []string{"main@sha1:" + sha, "sha256:" + sha256hex, "main/" + sha, sha, "@", "a@b:c", "refs/pull/1/head@sha1:" + sha} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := source.ParseRevision(s)
		if err != nil {
			return
		}
		// A parsed revision formats to a string that parses to itself.
		r2, err := source.ParseRevision(r.String())
		if err != nil {
			t.Fatalf("ParseRevision(%q) ok but its String %q does not parse: %v", s, r.String(), err)
		}
		if r != r2 {
			t.Fatalf("round trip of %q: %+v != %+v", s, r, r2)
		}
		if !source.RevisionsEqual(s, r.String()) {
			t.Fatalf("RevisionsEqual(%q, %q) = false", s, r.String())
		}
	})
}

func TestOCIRevision(t *testing.T) {
	hex := "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
	low := strings.ToLower(hex)
	for _, c := range []struct{ tag, digest, want string }{
		{"v1.0.0", "sha256:" + hex, "v1.0.0@sha256:" + low},
		{"", "sha256:" + low, "sha256:" + low},
		{"latest", low, "latest@sha256:" + low},
	} {
		if got := source.OCIRevision(c.tag, c.digest); got != c.want {
			t.Errorf("OCIRevision(%q, %q) = %q, want %q", c.tag, c.digest, got, c.want)
		}
		if got := source.RevisionDigest(c.want); got != "sha256:"+low {
			t.Errorf("RevisionDigest(%q) = %q", c.want, got)
		}
	}
	if got := source.RevisionDigest("not a revision"); got != "" {
		t.Errorf("RevisionDigest of garbage = %q", got)
	}
}
