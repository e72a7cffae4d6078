package artifact_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/source"
	"github.com/google/go-cmp/cmp"
)

// TestStoreLifecycle drives the store through what a source controller
// calls: put, open, archive, list, garbage-collect, remove.
func TestStoreLifecycle(t *testing.T) {
	ctx := context.Background()
	st := newStore(t, artifact.WithRetention(2, time.Hour))
	rev := "main@sha1:" + strings.Repeat("b", 40)

	// Put, Exists, Open.
	a := st.NewArtifact(artifact.ObjectKey{Kind: "GitRepository", Namespace: "apps", Name: "podinfo"}, rev, "manual.tar.gz")
	put, err := st.Put(ctx, a, strings.NewReader("hello artifact"))
	if err != nil {
		t.Fatal(err)
	}
	wantDigest, _ := artifact.DigestOf(strings.NewReader("hello artifact"), "sha256")
	if put.Digest != wantDigest || put.Size != 14 || put.LastUpdateTime.IsZero() || put.Path != "gitrepository/apps/podinfo/manual.tar.gz" {
		t.Errorf("Put = %+v", put)
	}
	if !st.Exists(put) {
		t.Error("Exists = false after Put")
	}
	rc, err := st.Open(put)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "hello artifact" {
		t.Errorf("Open read %q", b)
	}
	if _, err := st.Open(st.NewArtifact(artifact.ObjectKey{Kind: "GitRepository", Namespace: "apps", Name: "podinfo"}, rev, "missing.tar.gz")); !errors.Is(err, artifact.ErrNotFound) {
		t.Errorf("Open missing: err = %v, want ErrNotFound", err)
	}

	// ArchiveSnapshot of two trees, plus artifacts of other objects.
	src := t.TempDir()
	writeTree(t, src, sampleTree)
	first, err := st.ArchiveSnapshot(ctx, artifact.ObjectKey{Kind: "GitRepository", Namespace: "apps", Name: "podinfo"}, src, source.Snapshot{Revision: rev}, artifact.PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, src, map[string]string{"new.yaml": "kind: Secret\n"})
	second, err := st.ArchiveSnapshot(ctx, artifact.ObjectKey{Kind: "GitRepository", Namespace: "apps", Name: "podinfo"}, src, source.Snapshot{Revision: rev}, artifact.PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []artifact.ObjectKey{
		{Kind: "GitRepository", Namespace: "apps", Name: "other"},
		{Kind: "GitRepository", Namespace: "infra", Name: "podinfo"},
		{Kind: "OCIRepository", Namespace: "apps", Name: "podinfo"},
	} {
		if _, err := st.Put(ctx, st.NewArtifact(o, rev, "x.tar.gz"), strings.NewReader(o.Name)); err != nil {
			t.Fatal(err)
		}
	}
	// Give the three podinfo files distinct ages so List orders them.
	local := func(a artifact.Artifact) string {
		p, err := st.LocalPath(a)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	for i, a := range []artifact.Artifact{put, first, second} {
		mt := base.Add(time.Duration(i) * 10 * time.Second)
		if err := os.Chtimes(local(a), mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	// A file being written is never listed.
	if err := os.WriteFile(filepath.Join(filepath.Dir(local(put)), ".tmp-x.tar.gz-1"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}

	paths := func(as []artifact.Artifact) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.Path)
		}
		return out
	}
	tests := []struct {
		kind, ns, name string
		want           []string
	}{
		{"GitRepository", "apps", "podinfo", []string{second.Path, first.Path, put.Path}},
		{"gitrepository", "apps", "", []string{"gitrepository/apps/other/x.tar.gz", second.Path, first.Path, put.Path}},
		{"GitRepository", "", "", []string{"gitrepository/apps/other/x.tar.gz", second.Path, first.Path, put.Path, "gitrepository/infra/podinfo/x.tar.gz"}},
		{"OCIRepository", "apps", "podinfo", []string{"ocirepository/apps/podinfo/x.tar.gz"}},
		{"HelmChart", "", "", nil},
		{"GitRepository", "nowhere", "", nil},
	}
	for _, tt := range tests {
		got, err := st.List(ctx, artifact.ObjectKey{Kind: tt.kind, Namespace: tt.ns, Name: tt.name})
		if err != nil {
			t.Fatalf("List(%s, %s, %s): %v", tt.kind, tt.ns, tt.name, err)
		}
		if diff := cmp.Diff(tt.want, paths(got)); diff != "" {
			t.Errorf("List(%s, %s, %s) (-want +got):\n%s", tt.kind, tt.ns, tt.name, diff)
		}
	}
	listed, _ := st.List(ctx, artifact.ObjectKey{Kind: "GitRepository", Namespace: "apps", Name: "podinfo"})
	wantFirst := artifact.Artifact{Path: second.Path, URL: second.URL, Size: second.Size, LastUpdateTime: base.Add(20 * time.Second).UTC()}
	if diff := cmp.Diff(wantFirst, listed[0]); diff != "" {
		t.Errorf("listed artifact (-want +got):\n%s", diff)
	}

	for _, bad := range [][3]string{{"", "", ""}, {"GitRepository", "", "podinfo"}, {"GitRepository", "..", ""}, {"GitRepository", "a/b", ""}, {"GitRepository", "apps", ".hidden"}} {
		if _, err := st.List(ctx, artifact.ObjectKey{Kind: bad[0], Namespace: bad[1], Name: bad[2]}); err == nil {
			t.Errorf("List%q: no error", bad)
		}
	}

	// GarbageCollect keeps two records: second (current) and first.
	removed, err := st.GarbageCollect(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{put.Path}, removed); diff != "" {
		t.Errorf("GarbageCollect removed (-want +got):\n%s", diff)
	}

	// Handler serves what is stored.
	srv := httptest.NewServer(st.Handler())
	defer srv.Close()
	f := &artifact.Fetcher{}
	second.URL = srv.URL + "/" + second.Path
	dst := filepath.Join(t.TempDir(), "out")
	if _, err := f.Fetch(ctx, second, dst); err != nil {
		t.Fatalf("Fetch through Handler: %v", err)
	}
	if got := readTree(t, dst); got["new.yaml"] != "kind: Secret\n" || len(got) != len(sampleTree)+1 {
		t.Errorf("fetched tree = %v", got)
	}

	// Remove and RemoveAll.
	if err := st.Remove(first); err != nil || st.Exists(first) {
		t.Errorf("Remove: err = %v, still exists = %v", err, st.Exists(first))
	}
	if err := st.Remove(first); err != nil {
		t.Errorf("Remove of a missing file: %v", err)
	}
	if err := st.RemoveAll(artifact.ObjectKey{Kind: "GitRepository", Namespace: "apps", Name: "podinfo"}); err != nil {
		t.Fatal(err)
	}
	if got, err := st.List(ctx, artifact.ObjectKey{Kind: "GitRepository", Namespace: "apps"}); err != nil || len(got) != 1 {
		t.Errorf("after RemoveAll: %v, %v", paths(got), err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := st.List(canceled, artifact.ObjectKey{Kind: "GitRepository"}); !errors.Is(err, context.Canceled) {
		t.Errorf("List with canceled context: err = %v", err)
	}
}
