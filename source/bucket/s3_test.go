package bucket_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/bucket"
	"github.com/google/go-cmp/cmp"
)

func newS3(t *testing.T, srv *s3Server, name string, mod func(*bucket.S3Options)) *bucket.S3 {
	t.Helper()
	opts := bucket.S3Options{
		Endpoint: srv.Endpoint, Region: testRegion, Bucket: name,
		AccessKey: testAccess, SecretKey: testSecret, Insecure: true,
	}
	if mod != nil {
		mod(&opts)
	}
	p, err := bucket.NewS3(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestS3Fetch(t *testing.T) {
	ctx := context.Background()
	srv := startS3(t)
	objects := map[string]string{
		"apps/deploy.yaml":   "kind: Deployment\n",
		"apps/svc.yaml":      "kind: Service\n",
		"infra/a/b/cm.yaml":  "kind: ConfigMap\n",
		"logo.png":           "PNG",
		".github/ci.yaml":    "on: push\n",
		"docs/guide/x.yaml":  "x: 1\n",
		"empty.yaml":         "",
		"spaces in name.txt": "s\n",
	}
	srv.MakeBucket(t, "manifests", objects)
	proxy := newCountingProxy(t)
	p := newS3(t, srv, "manifests", func(o *bucket.S3Options) { o.Proxy = &bucket.Proxy{URL: proxy.URL} })
	b := &bucket.Bucket{Provider: p, Workers: 4}
	dir := filepath.Join(t.TempDir(), "out")
	snap, err := b.Fetch(ctx, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for k, v := range objects {
		if k != "logo.png" && k != ".github/ci.yaml" { // Flux's default exclusions
			want[k] = v
		}
	}
	if diff := cmp.Diff(want, tree(t, dir)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	if got, want := snap.Revision, bucket.Revision(indexOf(t, p, "")); got != want {
		t.Errorf("revision %s, want %s", got, want)
	}
	if n := proxy.Count(http_GET); n < len(want) {
		t.Errorf("%d GET requests through the proxy, want at least %d", n, len(want))
	}

	// The no-op check lists and downloads nothing.
	if _, err := b.Fetch(ctx, t.TempDir(), snap.Revision); !errors.Is(err, source.ErrUnchanged) {
		t.Fatalf("no-op: %v", err)
	}
	if got := objectGets(proxy); got != 0 {
		t.Errorf("no-op made %d object downloads", got)
	}

	// A changed object (new ETag) makes a new revision.
	srv.Put(t, "manifests", map[string]string{"apps/svc.yaml": "kind: Service\nmetadata: {}\n"})
	changedDir := t.TempDir()
	changed, err := b.Fetch(ctx, changedDir, snap.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if changed.Revision == snap.Revision {
		t.Fatal("revision did not change with an object's content")
	}
	if got := tree(t, changedDir)["apps/svc.yaml"]; got != "kind: Service\nmetadata: {}\n" {
		t.Errorf("changed object = %q", got)
	}
	// A deleted object makes a new revision and is gone from the tree.
	srv.Delete(t, "manifests", "apps/deploy.yaml")
	delDir := t.TempDir()
	deleted, err := b.Fetch(ctx, delDir, changed.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if deleted.Revision == changed.Revision {
		t.Fatal("revision did not change with a deletion")
	}
	if _, ok := tree(t, delDir)["apps/deploy.yaml"]; ok {
		t.Error("deleted object still fetched")
	}
}

const http_GET = "GET"

// objectGets counts the GET requests that were not listings.
func objectGets(p *countingProxy) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.paths {
		if strings.HasPrefix(r, "GET ") && !strings.Contains(r, "list-type=") && !strings.Contains(r, "location=") {
			n++
		}
	}
	p.counts = map[string]int{}
	p.paths = nil
	return n
}

func TestS3Paging(t *testing.T) {
	ctx := context.Background()
	srv := startS3(t)
	objects := map[string]string{}
	for i := range 1234 {
		objects[fmt.Sprintf("k/%04d.yaml", i)] = fmt.Sprintf("n: %d\n", i)
	}
	srv.MakeBucket(t, "many", objects)
	proxy := newCountingProxy(t)
	p := newS3(t, srv, "many", func(o *bucket.S3Options) { o.Proxy = &bucket.Proxy{URL: proxy.URL} })
	dir := t.TempDir()
	snap, err := (&bucket.Bucket{Provider: p, Workers: 16}).Fetch(ctx, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	got := tree(t, dir)
	if len(got) != len(objects) {
		t.Fatalf("fetched %d objects, want %d", len(got), len(objects))
	}
	if got["k/1233.yaml"] != "n: 1233\n" {
		t.Errorf("last object = %q", got["k/1233.yaml"])
	}
	listings := 0
	for _, r := range proxy.paths {
		if strings.Contains(r, "list-type=2") {
			listings++
		}
	}
	if listings < 2 {
		t.Errorf("%d listing pages for %d keys, want at least 2", listings, len(objects))
	}
	idx := indexOf(t, p, "")
	if len(idx) != len(objects) || snap.Revision != bucket.Revision(idx) {
		t.Errorf("revision %s over %d keys", snap.Revision, len(idx))
	}
	_, err = (&bucket.Bucket{Provider: p, Limits: bucket.Limits{MaxObjects: 1000}}).Fetch(ctx, t.TempDir(), "")
	if !errors.Is(err, bucket.ErrLimit) {
		t.Errorf("over MaxObjects: %v, want ErrLimit", err)
	}
}

func TestS3PrefixAndIgnore(t *testing.T) {
	ctx := context.Background()
	srv := startS3(t)
	srv.MakeBucket(t, "mixed", map[string]string{
		".sourceignore":       "*.md\n",
		"apps/a.yaml":         "a",
		"apps/README.md":      "r",
		"apps/sub/b.yaml":     "b",
		"apps/sub/skip.json":  "{}",
		"other/c.yaml":        "c",
		"appsettings/x.yaml":  "x",
		"apps/sub/logo.png":   "png",
		"apps/.git/HEAD":      "ref",
		"apps/dir/":           "",
		"apps/dir/inner.yaml": "i",
	})
	proxy := newCountingProxy(t)
	p := newS3(t, srv, "mixed", func(o *bucket.S3Options) { o.Proxy = &bucket.Proxy{URL: proxy.URL} })
	b := &bucket.Bucket{Provider: p, Prefix: "apps/", Ignore: "/apps/sub/*.json\n"}
	dir := t.TempDir()
	snap, err := b.Fetch(ctx, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		".sourceignore":       "*.md\n",
		"apps/a.yaml":         "a",
		"apps/sub/b.yaml":     "b",
		"apps/sub/logo.png":   "png", // patterns given: no default exclusions
		"apps/dir/inner.yaml": "i",
	}
	if diff := cmp.Diff(want, tree(t, dir)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	wantIdx := indexOf(t, p, "apps/", "apps/README.md", "apps/sub/skip.json")
	if got, want := snap.Revision, bucket.Revision(wantIdx); got != want {
		t.Errorf("revision %s, want %s (index %v)", got, want, wantIdx)
	}
	objectGets(proxy)
	if _, err := b.Fetch(ctx, t.TempDir(), snap.Revision); !errors.Is(err, source.ErrUnchanged) {
		t.Fatalf("no-op: %v", err)
	}
	if n := objectGets(proxy); n != 0 {
		t.Errorf("no-op made %d object downloads (the .sourceignore is remembered by ETag)", n)
	}
	// A fresh Bucket value reads .sourceignore once, and nothing else.
	fresh := &bucket.Bucket{Provider: p, Prefix: "apps/", Ignore: "/apps/sub/*.json\n"}
	if _, err := fresh.Fetch(ctx, t.TempDir(), snap.Revision); !errors.Is(err, source.ErrUnchanged) {
		t.Fatalf("no-op of a fresh Bucket: %v", err)
	}
	if n := objectGets(proxy); n != 1 {
		t.Errorf("no-op of a fresh Bucket made %d downloads, want 1 (.sourceignore)", n)
	}
}

func TestS3AuthFailure(t *testing.T) {
	srv := startS3(t)
	srv.MakeBucket(t, "private", map[string]string{"a.yaml": "a"})
	const wrong = "wrong-secret-Hk3pQ8sT2"
	for name, mod := range map[string]func(*bucket.S3Options){
		"wrong secret": func(o *bucket.S3Options) { o.SecretKey = wrong },
		"session token": func(o *bucket.S3Options) {
			o.SecretKey, o.SessionToken = wrong, "session-token-Vb6nM1xR4"
		},
		"unknown key": func(o *bucket.S3Options) { o.AccessKey, o.SecretKey = "AKIAUNKNOWN", wrong },
		"anonymous":   func(o *bucket.S3Options) { o.AccessKey, o.SecretKey = "", "" },
	} {
		t.Run(name, func(t *testing.T) {
			p := newS3(t, srv, "private", mod)
			_, err := (&bucket.Bucket{Provider: p}).Fetch(context.Background(), t.TempDir(), "")
			if !errors.Is(err, source.ErrAuth) {
				t.Fatalf("Fetch: %v, want ErrAuth", err)
			}
			for _, secret := range []string{wrong, testSecret, "session-token-Vb6nM1xR4"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a secret: %v", err)
				}
			}
			t.Log(err)
		})
	}
}

func TestS3MissingBucket(t *testing.T) {
	srv := startS3(t)
	for _, region := range []string{testRegion, ""} {
		p := newS3(t, srv, "no-such-bucket", func(o *bucket.S3Options) { o.Region = region })
		_, err := (&bucket.Bucket{Provider: p}).Fetch(context.Background(), t.TempDir(), "")
		if !errors.Is(err, source.ErrNotFound) {
			t.Fatalf("region %q: %v, want ErrNotFound", region, err)
		}
		if !strings.Contains(err.Error(), "no-such-bucket") {
			t.Errorf("error does not name the bucket: %v", err)
		}
	}
}

func TestS3NetworkFailure(t *testing.T) {
	srv := startS3(t)
	p := newS3(t, srv, "bbb", func(o *bucket.S3Options) { o.Insecure = false })
	_, err := (&bucket.Bucket{Provider: p}).Fetch(context.Background(), t.TempDir(), "")
	if !errors.Is(err, source.ErrNetwork) {
		t.Fatalf("HTTPS to a plain HTTP server: %v, want ErrNetwork", err)
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Errorf("error shows the secret: %v", err)
	}
}

func TestS3TLS(t *testing.T) {
	srv, ca := startS3TLS(t)
	srv.MakeBucket(t, "secure", map[string]string{"a.yaml": "a"})
	secure := func(o *bucket.S3Options) { o.Insecure = false }
	_, err := (&bucket.Bucket{Provider: newS3(t, srv, "secure", secure)}).Fetch(context.Background(), t.TempDir(), "")
	if !errors.Is(err, source.ErrNetwork) {
		t.Fatalf("without the CA: %v, want ErrNetwork", err)
	}
	p := newS3(t, srv, "secure", func(o *bucket.S3Options) { o.Insecure, o.CA = false, ca })
	dir := t.TempDir()
	if _, err := (&bucket.Bucket{Provider: p}).Fetch(context.Background(), dir, ""); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	if got := tree(t, dir); got["a.yaml"] != "a" {
		t.Errorf("tree %v", got)
	}
}
