package gcs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/bucket"
	"github.com/gitopskit/gitopskit/source/bucket/gcs"
)

func newProvider(t *testing.T, opts gcs.Options) *gcs.Provider {
	t.Helper()
	p, err := gcs.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// listAll returns what List reports under prefix.
func listAll(t *testing.T, p bucket.Provider, prefix string) map[string]bucket.Object {
	t.Helper()
	out := map[string]bucket.Object{}
	err := p.List(context.Background(), prefix, func(o bucket.Object) error {
		if _, dup := out[o.Key]; dup {
			return fmt.Errorf("key %q listed twice", o.Key)
		}
		out[o.Key] = o
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tree returns the regular files below dir (slash paths → content).
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestListPages(t *testing.T) {
	emu := startEmulator(t)
	objects := map[string]string{}
	for i := range 23 {
		objects[fmt.Sprintf("apps/app-%02d.yaml", i)] = fmt.Sprintf("n: %d\n", i)
	}
	objects["infra/cm.yaml"] = "kind: ConfigMap\n"
	objects["infra/"] = "" // a directory marker, listed as any object
	objects["top level.txt"] = "x"
	emu.MakeBucket(t, "paged", objects)
	proxy := newRecordingProxy(t)
	p := newProvider(t, gcs.Options{Bucket: "paged", Endpoint: emu.URL, Insecure: true, PageSize: 7,
		Proxy: &bucket.Proxy{URL: proxy.URL}})

	got := listAll(t, p, "")
	if diff := cmp.Diff(sortedKeys(objects), sortedKeys(got)); diff != "" {
		t.Errorf("listed keys (-want +got):\n%s", diff)
	}
	want := emu.Index(t, "paged", sortedKeys(objects)...)
	for k, o := range got {
		if o.ETag == "" || o.ETag != want[k] {
			t.Errorf("%s: listed ETag %q, the object's attributes say %q", k, o.ETag, want[k])
		}
		if o.Size != int64(len(objects[k])) {
			t.Errorf("%s: listed size %d, want %d", k, o.Size, len(objects[k]))
		}
	}
	if n, want := listings(proxy.Take()), (len(objects)+6)/7; n != want {
		t.Errorf("%d listing requests for %d objects in pages of 7, want %d", n, len(objects), want)
	}

	apps := listAll(t, p, "apps/app-1")
	if diff := cmp.Diff([]string{"apps/app-10.yaml", "apps/app-11.yaml", "apps/app-12.yaml", "apps/app-13.yaml",
		"apps/app-14.yaml", "apps/app-15.yaml", "apps/app-16.yaml", "apps/app-17.yaml", "apps/app-18.yaml",
		"apps/app-19.yaml"}, sortedKeys(apps)); diff != "" {
		t.Errorf("prefix listing (-want +got):\n%s", diff)
	}
	if n := listings(proxy.Take()); n != 2 {
		t.Errorf("%d listing requests for 10 objects in pages of 7, want 2", n)
	}

	// visit's error stops the listing and comes back as it is.
	stop := errors.New("enough")
	seen := 0
	err := p.List(context.Background(), "", func(bucket.Object) error {
		seen++
		if seen == 3 {
			return stop
		}
		return nil
	})
	if err != stop || seen != 3 {
		t.Errorf("List after visit failed: %v after %d objects", err, seen)
	}
}

func TestGet(t *testing.T) {
	emu := startEmulator(t)
	emu.MakeBucket(t, "objects", map[string]string{"a/b c.yaml": "hello\n", "empty": ""})
	p := newProvider(t, gcs.Options{Bucket: "objects", Endpoint: emu.URL + "/storage/v1", Insecure: true})
	ctx := context.Background()
	listed := listAll(t, p, "")

	for key, content := range map[string]string{"a/b c.yaml": "hello\n", "empty": ""} {
		rc, o, err := p.Get(ctx, key)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != content {
			t.Errorf("%s: content %q, want %q", key, data, content)
		}
		if want := (bucket.Object{Key: key, ETag: listed[key].ETag, Size: int64(len(content))}); o != want {
			t.Errorf("%s: described as %+v, want %+v", key, o, want)
		}
	}

	_, _, err := p.Get(ctx, "a/missing.yaml")
	if !errors.Is(err, bucket.ErrObjectNotFound) {
		t.Fatalf("missing object: %v, want ErrObjectNotFound", err)
	}
	var be *bucket.Error
	if !errors.As(err, &be) || be.Key != "a/missing.yaml" || be.Subject != "objects" || be.Op != "get" {
		t.Errorf("missing object: error %#v does not name the bucket, the key and the operation", err)
	}
}

func TestMissingBucket(t *testing.T) {
	emu := startEmulator(t)
	emu.MakeBucket(t, "present", map[string]string{"x": "y"})
	p := newProvider(t, gcs.Options{Bucket: "absent", Endpoint: emu.URL, Insecure: true})
	err := p.List(context.Background(), "", func(bucket.Object) error { return nil })
	if !errors.Is(err, source.ErrNotFound) {
		t.Fatalf("List: %v, want ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "absent") || !strings.Contains(err.Error(), emu.URL) {
		t.Errorf("error %q does not name the bucket and the endpoint", err)
	}
	_, err = (&bucket.Bucket{Provider: p}).Fetch(context.Background(), t.TempDir(), "")
	if !errors.Is(err, source.ErrNotFound) {
		t.Errorf("Fetch: %v, want ErrNotFound", err)
	}
}

func TestFetch(t *testing.T) {
	ctx := context.Background()
	emu := startEmulator(t)
	objects := map[string]string{
		"apps/deploy.yaml":   "kind: Deployment\n",
		"apps/svc.yaml":      "kind: Service\n",
		"infra/a/b/cm.yaml":  "kind: ConfigMap\n",
		"logo.png":           "PNG",
		"docs/guide/x.yaml":  "x: 1\n",
		"spaces in name.txt": "s\n",
		"empty.yaml":         "",
		".sourceignore":      "docs/\n",
	}
	emu.MakeBucket(t, "manifests", objects)
	proxy := newRecordingProxy(t)
	p := newProvider(t, gcs.Options{Bucket: "manifests", Endpoint: emu.URL, Insecure: true, PageSize: 3,
		Proxy: &bucket.Proxy{URL: proxy.URL}})
	b := &bucket.Bucket{Provider: p, Workers: 4}

	snap, err := b.Fetch(ctx, filepath.Join(t.TempDir(), "out"), "")
	if err != nil {
		t.Fatal(err)
	}
	indexed := []string{"apps/deploy.yaml", "apps/svc.yaml", "infra/a/b/cm.yaml", "logo.png", "spaces in name.txt", "empty.yaml"}
	if want := bucket.Revision(emu.Index(t, "manifests", indexed...)); snap.Revision != want {
		t.Errorf("revision %s, want %s (Flux's, from the objects' ETags)", snap.Revision, want)
	}
	proxy.Take()

	// The same revision again: listed, nothing downloaded.
	again, err := b.Fetch(ctx, t.TempDir(), snap.Revision)
	if !errors.Is(err, source.ErrUnchanged) || again.Revision != snap.Revision {
		t.Fatalf("no-op: %v, revision %s", err, again.Revision)
	}
	reqs := proxy.Take()
	if n := downloads(reqs); n != 0 {
		t.Errorf("the no-op check downloaded %d objects", n)
	}
	if n := listings(reqs); n != 3 {
		t.Errorf("the no-op check made %d listing requests for 8 objects in pages of 3, want 3", n)
	}

	// A fresh fetch gives the same revision.
	dir := filepath.Join(t.TempDir(), "out")
	stable, err := b.Fetch(ctx, dir, "")
	if err != nil || stable.Revision != snap.Revision {
		t.Fatalf("second fetch: %v, revision %s, want %s", err, stable.Revision, snap.Revision)
	}
	// The .sourceignore gives patterns, so artifact's default exclusions
	// (logo.png) do not apply; docs/ is ignored.
	want := map[string]string{".sourceignore": "docs/\n"}
	for _, k := range indexed {
		want[k] = objects[k]
	}
	if diff := cmp.Diff(want, tree(t, dir)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}

	// An overwritten object has a new ETag and makes a new revision.
	before := emu.Index(t, "manifests", "apps/svc.yaml")["apps/svc.yaml"]
	emu.Put(t, "manifests", map[string]string{"apps/svc.yaml": "kind: Service\nmetadata: {}\n"})
	after := listAll(t, p, "apps/svc.yaml")["apps/svc.yaml"].ETag
	if after == before || after == "" {
		t.Fatalf("ETag %q after the overwrite, %q before", after, before)
	}
	dir = t.TempDir()
	changed, err := b.Fetch(ctx, dir, snap.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if changed.Revision == snap.Revision {
		t.Error("the revision did not change after an overwrite")
	}
	if got := tree(t, dir)["apps/svc.yaml"]; got != "kind: Service\nmetadata: {}\n" {
		t.Errorf("overwritten object fetched as %q", got)
	}
	if want := bucket.Revision(emu.Index(t, "manifests", indexed...)); changed.Revision != want {
		t.Errorf("revision %s after the overwrite, want %s", changed.Revision, want)
	}

	// A deleted object leaves the tree and the revision.
	emu.Delete(t, "manifests", "infra/a/b/cm.yaml")
	dir = t.TempDir()
	deleted, err := b.Fetch(ctx, dir, changed.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tree(t, dir)["infra/a/b/cm.yaml"]; ok {
		t.Error("the deleted object was fetched")
	}
	if want := bucket.Revision(emu.Index(t, "manifests", indexed...)); deleted.Revision != want || deleted.Revision == changed.Revision {
		t.Errorf("revision %s after the deletion, want %s (before: %s)", deleted.Revision, want, changed.Revision)
	}
	if _, err := b.Fetch(ctx, t.TempDir(), deleted.Revision); !errors.Is(err, source.ErrUnchanged) {
		t.Errorf("no-op after the deletion: %v", err)
	}
}

func TestHTTPS(t *testing.T) {
	emu, ca := startEmulatorTLS(t)
	emu.MakeBucket(t, "secure", map[string]string{"k.yaml": "v\n"})

	p := newProvider(t, gcs.Options{Bucket: "secure", Endpoint: emu.URL, CA: ca})
	if got := listAll(t, p, ""); len(got) != 1 {
		t.Fatalf("listed %v", got)
	}
	if got := p.String(); got != "secure at "+emu.URL {
		t.Errorf("String() = %q", got)
	}
	// "host:port" means https.
	p = newProvider(t, gcs.Options{Bucket: "secure", Endpoint: strings.TrimPrefix(emu.URL, "https://"), CA: ca})
	if got := listAll(t, p, ""); len(got) != 1 {
		t.Fatalf("listed %v", got)
	}

	// Without the CA the certificate is not trusted.
	p = newProvider(t, gcs.Options{Bucket: "secure", Endpoint: emu.URL, MaxRetries: -1})
	err := p.List(context.Background(), "", func(bucket.Object) error { return nil })
	if !errors.Is(err, source.ErrNetwork) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v, want ErrNetwork naming the certificate", err)
	}
}

func TestNetworkError(t *testing.T) {
	addr := freeAddr(t)
	p := newProvider(t, gcs.Options{Bucket: "nowhere", Endpoint: "http://" + addr, Insecure: true, MaxRetries: 1})
	err := p.List(context.Background(), "", func(bucket.Object) error { return nil })
	if !errors.Is(err, source.ErrNetwork) {
		t.Errorf("closed port: %v, want ErrNetwork", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = p.Get(ctx, "x")
	if !errors.Is(err, source.ErrNetwork) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v, want ErrNetwork and context.Canceled", err)
	}
}

// TestEnvironmentIgnored checks that the SDK's and Google's environment
// variables do not redirect or authenticate a provider.
func TestEnvironmentIgnored(t *testing.T) {
	emu := startEmulator(t)
	emu.MakeBucket(t, "envless", map[string]string{"k": "v"})
	t.Setenv("STORAGE_EMULATOR_HOST", freeAddr(t))
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "absent.json"))
	t.Setenv("GCP_STORAGE_GO_ENABLE_OTEL_METRICS", "true")
	proxy := newRecordingProxy(t)
	p := newProvider(t, gcs.Options{Bucket: "envless", Endpoint: emu.URL, Insecure: true, MaxRetries: -1,
		Proxy: &bucket.Proxy{URL: proxy.URL}})
	if got := listAll(t, p, ""); len(got) != 1 {
		t.Fatalf("listed %v", got)
	}
	for _, r := range proxy.Take() {
		if r.Auth != "" {
			t.Errorf("anonymous request %s %s carried credentials", r.Method, r.Path)
		}
	}
}

// TestGetObjectReplaced replaces an object between the reading of its
// attributes and its download, through a front that enforces the
// download's ifGenerationMatch condition as Google Cloud Storage does
// (the emulator ignores it): Get reads the attributes again and returns
// the new content with its own ETag.
func TestGetObjectReplaced(t *testing.T) {
	emu := startEmulator(t)
	emu.MakeBucket(t, "racy", map[string]string{"app.yaml": "v: 1\n"})
	target, _ := url.Parse(emu.URL)
	fwd := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }}
	var (
		mu        sync.Mutex
		replaced  bool
		refused   int
		attrReads int
	)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("alt") != "media" {
			if strings.Contains(r.URL.EscapedPath(), "/o/") {
				mu.Lock()
				attrReads++
				mu.Unlock()
			}
			fwd.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		first := !replaced
		replaced = true
		mu.Unlock()
		if first {
			if err := emu.put("racy", map[string]string{"app.yaml": "v: 2\n"}); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		a, err := emu.admin.Bucket("racy").Object("app.yaml").Attrs(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if want := q.Get("ifGenerationMatch"); want != strconv.FormatInt(a.Generation, 10) {
			mu.Lock()
			refused++
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusPreconditionFailed)
			io.WriteString(w, `{"error":{"code":412,"message":"At least one of the pre-conditions you specified did not hold.","errors":[{"reason":"conditionNotMet"}]}}`)
			return
		}
		fwd.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	p := newProvider(t, gcs.Options{Bucket: "racy", Endpoint: front.URL, Insecure: true})
	before := emu.Index(t, "racy", "app.yaml")["app.yaml"]
	rc, o, err := p.Get(context.Background(), "app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	after := emu.Index(t, "racy", "app.yaml")["app.yaml"]
	if string(data) != "v: 2\n" || o.ETag != after || after == before {
		t.Errorf("got %q with ETag %q; want the new content with ETag %q (old ETag %q)", data, o.ETag, after, before)
	}
	mu.Lock()
	defer mu.Unlock()
	if refused != 1 || attrReads != 2 {
		t.Errorf("%d downloads refused, %d attribute reads; want 1 and 2", refused, attrReads)
	}
}
