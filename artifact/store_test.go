package artifact_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/source"
	"github.com/google/go-cmp/cmp"
)

func newStore(t *testing.T, opts ...artifact.StoreOption) *artifact.Store {
	t.Helper()
	s, err := artifact.NewStore(t.TempDir(), "source-controller.flux-system.svc", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreArchiveVerifyTamper(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	src := t.TempDir()
	writeTree(t, src, sampleTree)
	a := s.NewArtifact(artifact.ObjectKey{Kind: "GitRepository", Namespace: "default", Name: "podinfo"}, "main@sha1:"+strings.Repeat("a", 40), "aaaa.tar.gz")
	got, err := s.Archive(ctx, a, src, artifact.PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.URL != "http://source-controller.flux-system.svc/gitrepository/default/podinfo/aaaa.tar.gz" {
		t.Errorf("URL = %s", got.URL)
	}
	local, err := s.LocalPath(got)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(local)
	if err != nil || fi.Size() != got.Size || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stored file: %v %v, artifact size %d", fi, err, got.Size)
	}
	if got.LastUpdateTime.IsZero() || !s.Exists(got) {
		t.Error("artifact not marked as written")
	}
	// The stored digest is the digest of the file and of Pack's output.
	_, res := packDir(t, src, artifact.PackOptions{})
	if got.Digest != res.Digest {
		t.Errorf("store digest %s, pack digest %s", got.Digest, res.Digest)
	}
	if err := s.Verify(got); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := os.WriteFile(local, []byte("tampered"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(got); !errors.Is(err, artifact.ErrDigestMismatch) {
		t.Errorf("Verify(tampered) = %v", err)
	}
	noDigest := got
	noDigest.Digest = ""
	if err := s.Verify(noDigest); !errors.Is(err, artifact.ErrInvalidDigest) {
		t.Errorf("Verify(no digest) = %v", err)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Dir(local))
	if len(entries) != 1 {
		t.Errorf("store dir holds %d entries, want 1", len(entries))
	}
	if err := s.Remove(got); err != nil || s.Exists(got) {
		t.Errorf("Remove: %v", err)
	}
	if _, err := s.Open(got); !errors.Is(err, artifact.ErrNotFound) {
		t.Errorf("Open(removed) = %v", err)
	}
}

func TestStoreArchiveSnapshot(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	src := t.TempDir()
	writeTree(t, src, sampleTree)
	snap := source.Snapshot{Revision: "main@sha1:" + strings.Repeat("b", 40), Metadata: map[string]string{"k": "v"}}
	a1, err := s.ArchiveSnapshot(ctx, artifact.ObjectKey{Kind: "GitRepository", Namespace: "ns", Name: "app"}, src, snap, artifact.PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a2, err := s.ArchiveSnapshot(ctx, artifact.ObjectKey{Kind: "GitRepository", Namespace: "ns", Name: "app"}, src, snap, artifact.PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "gitrepository/ns/app/" + strings.TrimPrefix(a1.Digest, "sha256:") + ".tar.gz"
	if a1.Path != want || a2.Path != a1.Path || a1.URL != "http://source-controller.flux-system.svc/"+want {
		t.Errorf("paths %s %s url %s, want %s", a1.Path, a2.Path, a1.URL, want)
	}
	if diff := cmp.Diff(snap.Metadata, a1.Metadata); diff != "" || a1.Revision != snap.Revision {
		t.Errorf("metadata/revision: %s %s", diff, a1.Revision)
	}
	if err := s.Verify(a1); err != nil {
		t.Error(err)
	}
	if _, err := s.ArchiveSnapshot(ctx, artifact.ObjectKey{Kind: "GitRepository", Namespace: "ns", Name: "app"}, src, source.Snapshot{Revision: "bad revision"}, artifact.PackOptions{}); err == nil {
		t.Error("invalid revision accepted")
	}
}

func TestStoreRejectsBadPathsAndBaseURLs(t *testing.T) {
	s := newStore(t)
	for _, p := range []string{"", "/abs/x.tar.gz", "../x.tar.gz", "a/../../x", "a/.hidden/x", `a\b`, "."} {
		if _, err := s.LocalPath(artifact.Artifact{Path: p}); err == nil {
			t.Errorf("LocalPath(%q) accepted", p)
		}
		if _, err := s.Put(context.Background(), artifact.Artifact{Path: p}, strings.NewReader("x")); err == nil {
			t.Errorf("Put(%q) accepted", p)
		}
	}
	if _, err := artifact.NewStore(filepath.Join(t.TempDir(), "missing"), ""); err == nil {
		t.Error("missing root accepted")
	}
	_, err := artifact.NewStore(t.TempDir(), "http://user:hunter2@[::1")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad base URL: %v", err)
	}
}

func TestStoreGarbageCollect(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		records int
		ttl     time.Duration
		ages    map[string]time.Duration // file -> age
		current string
		removed []string
	}{
		{
			name: "defaults keep current and one fresh predecessor", current: "d.tar.gz",
			ages:    map[string]time.Duration{"a.tar.gz": 3 * time.Second, "b.tar.gz": 2 * time.Second, "c.tar.gz": time.Second, "d.tar.gz": 0},
			removed: []string{"a.tar.gz", "b.tar.gz"},
		},
		{
			name: "expired files go even within the record count", records: 5, ttl: time.Minute, current: "c.tar.gz",
			ages:    map[string]time.Duration{"a.tar.gz": 2 * time.Minute, "b.tar.gz": 10 * time.Second, "c.tar.gz": 0},
			removed: []string{"a.tar.gz"},
		},
		{
			name: "current is kept even when oldest and expired", records: 1, ttl: time.Second, current: "a.tar.gz",
			ages:    map[string]time.Duration{"a.tar.gz": time.Hour, "b.tar.gz": 0},
			removed: []string{"b.tar.gz"},
		},
		{
			name: "stale temporary files are collected, fresh ones kept", current: "a.tar.gz",
			ages:    map[string]time.Duration{"a.tar.gz": 0, ".tmp-a.tar.gz-1": time.Hour, ".tmp-a.tar.gz-2": 0},
			removed: []string{".tmp-a.tar.gz-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, artifact.WithRetention(tt.records, tt.ttl), artifact.WithClock(func() time.Time { return now }))
			dir := filepath.Join(s.Root(), "gitrepository", "ns", "app")
			if err := os.MkdirAll(dir, 0o750); err != nil {
				t.Fatal(err)
			}
			for f, age := range tt.ages {
				p := filepath.Join(dir, f)
				if err := os.WriteFile(p, []byte(f), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
					t.Fatal(err)
				}
			}
			current := artifact.Artifact{Path: artifact.ObjectKey{Kind: "GitRepository", Namespace: "ns", Name: "app"}.ArtifactPath(tt.current)}
			got, err := s.GarbageCollect(ctx, current)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, f := range tt.removed {
				want = append(want, "gitrepository/ns/app/"+f)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("removed (-want +got):\n%s", diff)
			}
			var left []string
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				left = append(left, e.Name())
			}
			var wantLeft []string
			for f := range tt.ages {
				if !contains(tt.removed, f) {
					wantLeft = append(wantLeft, f)
				}
			}
			sort.Strings(wantLeft)
			if diff := cmp.Diff(wantLeft, left); diff != "" {
				t.Errorf("left on disk (-want +got):\n%s", diff)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestStoreConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	a := s.NewArtifact(artifact.ObjectKey{Kind: "Bucket", Namespace: "ns", Name: "b"}, "sha256:"+strings.Repeat("0", 64), "latest.tar.gz")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Put(ctx, a, strings.NewReader(strings.Repeat("x", 1000*(i+1)))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	f, err := s.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	if len(b)%1000 != 0 || strings.Trim(string(b), "x") != "" {
		t.Errorf("file is a mix of writes: %d bytes", len(b))
	}
}

func TestStoreHandler(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	src := t.TempDir()
	writeTree(t, src, sampleTree)
	a, err := s.Archive(ctx, s.NewArtifact(artifact.ObjectKey{Kind: "OCIRepository", Namespace: "ns", Name: "app"}, "sha256:"+strings.Repeat("1", 64), "x.tar.gz"), src, artifact.PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	local, _ := s.LocalPath(a)
	if err := os.WriteFile(filepath.Join(filepath.Dir(local), ".tmp-secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(s.Root()), "outside"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/artifacts", s.Handler()))
	defer srv.Close()

	tests := []struct {
		method, path string
		header       map[string]string
		status       int
		body         int // expected body length, -1 = don't check
		ctype        string
	}{
		{method: "GET", path: "/artifacts/" + a.Path, status: 200, body: int(a.Size), ctype: "application/gzip"},
		{method: "HEAD", path: "/artifacts/" + a.Path, status: 200, body: 0, ctype: "application/gzip"},
		{method: "GET", path: "/artifacts/" + a.Path, header: map[string]string{"Range": "bytes=0-9"}, status: 206, body: 10},
		{method: "POST", path: "/artifacts/" + a.Path, status: 405, body: -1},
		{method: "GET", path: "/artifacts/ocirepository/ns/app/", status: 404, body: -1},
		{method: "GET", path: "/artifacts/ocirepository/ns/app/.tmp-secret", status: 404, body: -1},
		{method: "GET", path: "/artifacts/ocirepository/ns/app/missing.tar.gz", status: 404, body: -1},
		{method: "GET", path: "/artifacts/%2e%2e/outside", status: 404, body: -1},
		{method: "GET", path: "/artifacts/..%2foutside", status: 404, body: -1},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		for k, v := range tt.header {
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || (tt.body >= 0 && len(body) != tt.body) {
			t.Errorf("%s %s: status %d, %d bytes; want %d, %d", tt.method, tt.path, resp.StatusCode, len(body), tt.status, tt.body)
		}
		if tt.ctype != "" && resp.Header.Get("Content-Type") != tt.ctype {
			t.Errorf("%s %s: content type %q", tt.method, tt.path, resp.Header.Get("Content-Type"))
		}
	}
}
