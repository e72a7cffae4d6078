package artifact_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/google/go-cmp/cmp"
)

func TestParseDigest(t *testing.T) {
	hex64 := strings.Repeat("ab", 32)
	tests := []struct {
		in      string
		alg     string
		wantErr bool
	}{
		{in: "sha256:" + hex64, alg: "sha256"},
		{in: "sha384:" + strings.Repeat("0", 96), alg: "sha384"},
		{in: "sha512:" + strings.Repeat("f", 128), alg: "sha512"},
		{in: hex64, wantErr: true},
		{in: "md5:" + hex64, wantErr: true},
		{in: "sha256:" + hex64[:63], wantErr: true},
		{in: "sha256:" + strings.ToUpper(hex64), wantErr: true},
		{in: "sha256:" + hex64[:62] + "zz", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		alg, val, err := artifact.ParseDigest(tt.in)
		if tt.wantErr {
			if !errors.Is(err, artifact.ErrInvalidDigest) {
				t.Errorf("ParseDigest(%q) error = %v, want ErrInvalidDigest", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseDigest(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.in, alg+":"+val); diff != "" || alg != tt.alg {
			t.Errorf("ParseDigest(%q) = %q, %q", tt.in, alg, val)
		}
	}
}

func TestVerifyDigest(t *testing.T) {
	// sha256 of "hello\n", as printed by sha256sum.
	const good = "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
	if err := artifact.VerifyDigest(strings.NewReader("hello\n"), good); err != nil {
		t.Fatalf("VerifyDigest: %v", err)
	}
	err := artifact.VerifyDigest(strings.NewReader("hello"), good)
	var mm *artifact.DigestMismatchError
	if !errors.As(err, &mm) || !errors.Is(err, artifact.ErrDigestMismatch) {
		t.Fatalf("VerifyDigest(tampered) = %v, want DigestMismatchError", err)
	}
	if mm.Expected != good || mm.Actual == good || !strings.HasPrefix(mm.Actual, "sha256:") {
		t.Errorf("mismatch = %+v", mm)
	}
}

func TestArtifactPath(t *testing.T) {
	got := artifact.ObjectKey{Kind: "GitRepository", Namespace: "flux-system", Name: "podinfo"}.ArtifactPath("abc.tar.gz")
	if diff := cmp.Diff("gitrepository/flux-system/podinfo/abc.tar.gz", got); diff != "" {
		t.Error(diff)
	}
	a := artifact.Artifact{Revision: "main@sha1:abc", Digest: "sha256:x"}
	if !a.HasRevision("main@sha1:abc") || a.HasRevision("") || !a.HasDigest("sha256:x") {
		t.Error("HasRevision/HasDigest")
	}
}
