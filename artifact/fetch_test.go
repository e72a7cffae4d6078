package artifact_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/artifact/artifacttest"
	"github.com/google/go-cmp/cmp"
)

func TestFetchRoundTrip(t *testing.T) {
	srv := artifacttest.NewServer(t)
	a := srv.Publish(t, artifact.ObjectKey{Kind: "GitRepository", Namespace: "ns", Name: "app"}, "main@sha1:"+strings.Repeat("c", 40), sampleTree)
	dst := filepath.Join(t.TempDir(), "work")
	f := &artifact.Fetcher{Client: srv.Client()}
	res, err := f.Fetch(context.Background(), a, dst)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sampleTree, readTree(t, dst)); diff != "" || res.Files != len(sampleTree) {
		t.Errorf("fetched tree (-want +got):\n%s", diff)
	}
	// No download leftovers next to the target.
	entries, _ := os.ReadDir(filepath.Dir(dst))
	if len(entries) != 1 {
		t.Errorf("%d entries next to target, want 1", len(entries))
	}
	file := filepath.Join(t.TempDir(), "a.tar.gz")
	if err := f.Download(context.Background(), a, file); err != nil {
		t.Fatal(err)
	}
	fh, _ := os.Open(file)
	defer fh.Close()
	if err := artifact.VerifyDigest(fh, a.Digest); err != nil {
		t.Error(err)
	}
}

func TestFetchFailures(t *testing.T) {
	srv := artifacttest.NewServer(t)
	a := srv.Publish(t, artifact.ObjectKey{Kind: "Bucket", Namespace: "ns", Name: "b"}, "sha256:"+strings.Repeat("d", 64), map[string]string{"a.yaml": strings.Repeat("z", 4096)})
	wrong := a
	wrong.Digest = "sha256:" + strings.Repeat("0", 64)
	missing := a
	missing.URL = srv.URL() + "/bucket/ns/b/missing.tar.gz"
	noDigest := a
	noDigest.Digest = ""
	withSecrets := missing
	withSecrets.URL = strings.Replace(srv.URL(), "http://", "http://user:hunter2@", 1) + "/bucket/ns/b/missing.tar.gz?token=s3cr3t"
	bigClaim := a
	bigClaim.Size = 1 << 40
	unreachable := a
	unreachable.URL = "http://user:hunter2@127.0.0.1:1/x.tar.gz?sig=s3cr3t"

	tests := []struct {
		name    string
		a       artifact.Artifact
		f       artifact.Fetcher
		wantErr error
		wantMsg string
	}{
		{name: "digest mismatch", a: wrong, wantErr: artifact.ErrDigestMismatch, wantMsg: "expected sha256:0000"},
		{name: "not found", a: missing, wantErr: artifact.ErrNotFound, wantMsg: "404"},
		{name: "no digest", a: noDigest, wantErr: artifact.ErrInvalidDigest, wantMsg: "no digest"},
		{name: "credentials are redacted", a: withSecrets, wantErr: artifact.ErrNotFound, wantMsg: "/bucket/ns/b/missing.tar.gz"},
		{name: "download cap", a: a, f: artifact.Fetcher{MaxDownloadSize: 100}, wantErr: artifact.ErrTooLarge, wantMsg: "larger than 100"},
		{name: "declared size over cap", a: bigClaim, wantErr: artifact.ErrTooLarge, wantMsg: "larger than"},
		{name: "unpack cap", a: a, f: artifact.Fetcher{Unpack: artifact.UnpackOptions{MaxSize: 1000}}, wantErr: artifact.ErrTooLarge, wantMsg: "larger than 1000"},
		{name: "connection refused", a: unreachable, wantMsg: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dst := filepath.Join(parent, "out")
			_, err := tt.f.Fetch(context.Background(), tt.a, dst)
			if err == nil {
				t.Fatal("Fetch succeeded")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %q, want it to mention %q", err, tt.wantMsg)
			}
			for _, secret := range []string{"hunter2", "s3cr3t", "user:"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error leaks %q: %v", secret, err)
				}
			}
			if tt.wantErr == artifact.ErrDigestMismatch || tt.name == "download cap" {
				if _, err := os.Stat(dst); !os.IsNotExist(err) {
					t.Errorf("target created although download failed: %v", err)
				}
			}
			left, _ := os.ReadDir(parent)
			for _, e := range left {
				if strings.HasPrefix(e.Name(), ".tmp-") {
					t.Errorf("temporary download %s left behind", e.Name())
				}
			}
		})
	}
}

func TestFetchRetriesTransientErrors(t *testing.T) {
	srv := artifacttest.NewServer(t)
	a := srv.Publish(t, artifact.ObjectKey{Kind: "GitRepository", Namespace: "ns", Name: "app"}, "main@sha1:"+strings.Repeat("e", 40), map[string]string{"x.yaml": "x"})
	var calls atomic.Int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, srv.URL()+r.URL.Path, http.StatusFound)
	}))
	defer flaky.Close()
	viaFlaky := a
	viaFlaky.URL = flaky.URL + "/" + a.Path

	f := artifact.Fetcher{Retries: 2, RetryWait: time.Millisecond}
	if _, err := f.Fetch(context.Background(), viaFlaky, t.TempDir()); err != nil {
		t.Fatalf("Fetch with retries: %v", err)
	}
	if calls.Load() != 3 {
		t.Errorf("calls = %d, want 3", calls.Load())
	}

	calls.Store(0)
	f.Retries = 1
	_, err := f.Fetch(context.Background(), viaFlaky, t.TempDir())
	var se *artifact.HTTPStatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusServiceUnavailable || calls.Load() != 2 {
		t.Errorf("err = %v after %d calls, want 503 after 2", err, calls.Load())
	}

	// 404 is not retried.
	calls.Store(0)
	f.Retries = 5
	missing := a
	missing.URL = srv.URL() + "/nope/x/y.tar.gz"
	before := srv.Requests()
	if _, err := f.Fetch(context.Background(), missing, t.TempDir()); !errors.Is(err, artifact.ErrNotFound) {
		t.Errorf("err = %v", err)
	}
	if n := srv.Requests() - before; n != 1 {
		t.Errorf("404 was requested %d times", n)
	}
}
