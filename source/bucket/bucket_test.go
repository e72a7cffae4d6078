package bucket_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/bucket"
	"github.com/gitopskit/gitopskit/source/bucket/buckettest"
	"github.com/google/go-cmp/cmp"
)

// TestRevisionIsFlux checks the index digest against the lines Flux
// hashes: "<key> <etag>\n" in sorted key order.
func TestRevisionIsFlux(t *testing.T) {
	index := map[string]string{"foo": "bar", "bar": "baz"}
	sum := sha256.Sum256([]byte("bar baz\nfoo bar\n"))
	if got, want := bucket.Revision(index), "sha256:"+hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Revision = %s, want %s", got, want)
	}
	// Flux's revision of an empty bucket, as its docs show it.
	if got, want := bucket.Revision(nil), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("empty Revision = %s, want %s", got, want)
	}
}

// tree returns the files below dir as slash paths → content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// indexOf returns the key→ETag index Flux would build from p's objects
// under prefix, less the keys in skip.
func indexOf(t *testing.T, p bucket.Provider, prefix string, skip ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := p.List(context.Background(), prefix, func(o bucket.Object) error {
		if !strings.HasSuffix(o.Key, "/") && o.Key != ".sourceignore" {
			out[o.Key] = o.ETag
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range skip {
		delete(out, k)
	}
	return out
}

func TestFetchInMemory(t *testing.T) {
	ctx := context.Background()
	p := buckettest.New(map[string]string{
		"apps/deploy.yaml":    "kind: Deployment\n",
		"apps/svc.yaml":       "kind: Service\n",
		"apps/":               "",
		"README.md":           "hello\n",
		"logo.png":            "PNG",
		".git/config":         "[core]\n",
		"infra/a/b/c/cm.yaml": "kind: ConfigMap\n",
	})
	p.PageSize = 2
	b := &bucket.Bucket{Provider: p, Workers: 3}
	dir := filepath.Join(t.TempDir(), "out")
	snap, err := b.Fetch(ctx, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	// The default exclusions spare the downloads of logo.png and .git/,
	// but, as in Flux, they are part of the index.
	want := map[string]string{
		"apps/deploy.yaml":    "kind: Deployment\n",
		"apps/svc.yaml":       "kind: Service\n",
		"README.md":           "hello\n",
		"infra/a/b/c/cm.yaml": "kind: ConfigMap\n",
	}
	if diff := cmp.Diff(want, tree(t, dir)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	if got, want := snap.Revision, bucket.Revision(indexOf(t, p, "")); got != want {
		t.Errorf("revision %s, want %s", got, want)
	}
	if p.Gets() != 4 {
		t.Errorf("%d downloads, want 4", p.Gets())
	}
	if p.Pages() < 4 {
		t.Errorf("listing took %d pages of 2 keys, want at least 4", p.Pages())
	}

	// No-op: nothing downloaded, nothing written.
	before := p.Gets()
	dir2 := filepath.Join(t.TempDir(), "again")
	again, err := b.Fetch(ctx, dir2, snap.Revision)
	if !errors.Is(err, source.ErrUnchanged) {
		t.Fatalf("second Fetch: %v, want ErrUnchanged", err)
	}
	if again.Revision != snap.Revision || p.Gets() != before {
		t.Errorf("no-op: revision %s, %d downloads", again.Revision, p.Gets()-before)
	}
	if _, err := os.Stat(dir2); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no-op Fetch created the directory: %v", err)
	}

	// A changed ETag and a deleted object each make a new revision.
	p.Put("apps/svc.yaml", []byte("kind: Service\nmetadata: {}\n"))
	changed, err := b.Fetch(ctx, t.TempDir(), snap.Revision)
	if err != nil || changed.Revision == snap.Revision {
		t.Fatalf("after a change: %v, revision %s", err, changed.Revision)
	}
	p.Delete("README.md")
	dir3 := t.TempDir()
	deleted, err := b.Fetch(ctx, dir3, changed.Revision)
	if err != nil || deleted.Revision == changed.Revision {
		t.Fatalf("after a delete: %v, revision %s", err, deleted.Revision)
	}
	if _, ok := tree(t, dir3)["README.md"]; ok {
		t.Error("deleted object was written")
	}
}

func TestSourceIgnoreAndIgnore(t *testing.T) {
	ctx := context.Background()
	p := buckettest.New(map[string]string{
		".sourceignore":     "*.txt\n!keep.txt\n",
		"a.yaml":            "a",
		"notes.txt":         "n",
		"keep.txt":          "k",
		"logo.png":          "png",
		"deploy/x.md":       "md",
		"deploy/x.yaml":     "x",
		".github/ci.yaml":   "ci",
		"sub/.sourceignore": "x",
	})
	b := &bucket.Bucket{Provider: p, Ignore: "/deploy/**/*.md\n"}
	dir := t.TempDir()
	snap, err := b.Fetch(ctx, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	// With patterns given, the default exclusions (*.png, .github/) no
	// longer apply, as in Flux; the root .sourceignore is written too.
	want := map[string]string{
		".sourceignore":     "*.txt\n!keep.txt\n",
		"a.yaml":            "a",
		"keep.txt":          "k",
		"logo.png":          "png",
		"deploy/x.yaml":     "x",
		".github/ci.yaml":   "ci",
		"sub/.sourceignore": "x",
	}
	if diff := cmp.Diff(want, tree(t, dir)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	if got, want := snap.Revision, bucket.Revision(indexOf(t, p, "", "notes.txt", "deploy/x.md")); got != want {
		t.Errorf("revision %s, want %s", got, want)
	}
	// The .sourceignore object is read once per ETag: a no-op downloads
	// nothing at all.
	before := p.Gets()
	if _, err := b.Fetch(ctx, t.TempDir(), snap.Revision); !errors.Is(err, source.ErrUnchanged) {
		t.Fatalf("no-op: %v", err)
	}
	if n := p.Gets() - before; n != 0 {
		t.Errorf("no-op downloaded %d objects", n)
	}
	// A new .sourceignore changes the index.
	p.Put(".sourceignore", []byte("*.yaml\n"))
	next, err := b.Fetch(ctx, t.TempDir(), snap.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := next.Revision, bucket.Revision(indexOf(t, p, "", "a.yaml", "deploy/x.yaml", "deploy/x.md", ".github/ci.yaml")); got != want {
		t.Errorf("revision after .sourceignore change %s, want %s", got, want)
	}
}

func TestPrefixInMemory(t *testing.T) {
	p := buckettest.New(map[string]string{
		".sourceignore":   "*.md\n",
		"apps/a.yaml":     "a",
		"apps/README.md":  "r",
		"appsx/b.yaml":    "b",
		"other/c.yaml":    "c",
		"apps/sub/d.yaml": "d",
	})
	dir := t.TempDir()
	snap, err := (&bucket.Bucket{Provider: p, Prefix: "apps/"}).Fetch(context.Background(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{".sourceignore": "*.md\n", "apps/a.yaml": "a", "apps/sub/d.yaml": "d"}
	if diff := cmp.Diff(want, tree(t, dir)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	if got, want := snap.Revision, bucket.Revision(map[string]string{"apps/a.yaml": etagOf("a"), "apps/sub/d.yaml": etagOf("d")}); got != want {
		t.Errorf("revision %s, want %s", got, want)
	}
}

func etagOf(s string) string { return (&buckettest.Provider{}).Put("x", []byte(s)) }

func TestUnsafeKeysRefused(t *testing.T) {
	for _, key := range []string{
		"../escape.yaml",
		"a/../../escape.yaml",
		"/etc/passwd",
		"a\\..\\..\\escape",
		"a\x00b",
		"./a.yaml",
		"a//b.yaml",
		"a/./b.yaml",
		"..",
		"C:/windows.yaml",
	} {
		t.Run(strings.ReplaceAll(key, "/", "_"), func(t *testing.T) {
			p := buckettest.New(map[string]string{"ok.yaml": "ok", key: "evil"})
			root := t.TempDir()
			dir := filepath.Join(root, "a", "b", "out")
			_, err := (&bucket.Bucket{Provider: p}).Fetch(context.Background(), dir, "")
			if !errors.Is(err, bucket.ErrUnsafeKey) {
				t.Fatalf("Fetch: %v, want ErrUnsafeKey", err)
			}
			var be *bucket.Error
			if !errors.As(err, &be) || be.Key != key {
				t.Errorf("error does not name the key: %#v", err)
			}
			if p.Gets() != 0 {
				t.Errorf("%d objects downloaded before the refusal", p.Gets())
			}
			var files []string
			filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					files = append(files, p)
				}
				return nil
			})
			if len(files) != 0 {
				t.Errorf("files written: %v", files)
			}
		})
	}
}

// TestIgnoredUnsafeKey checks that a key the rules exclude is never
// looked at: it is not downloaded, so it cannot escape.
func TestIgnoredUnsafeKey(t *testing.T) {
	p := buckettest.New(map[string]string{"ok.yaml": "ok", "../x.txt": "evil"})
	if _, err := (&bucket.Bucket{Provider: p, Ignore: "*.txt"}).Fetch(context.Background(), t.TempDir(), ""); err != nil {
		t.Fatal(err)
	}
}

func TestLimits(t *testing.T) {
	ctx := context.Background()
	objs := map[string]string{"a": "12345", "b": "67890", "c": "x"}
	for name, tc := range map[string]bucket.Limits{
		"objects":     {MaxObjects: 2},
		"size":        {MaxSize: 10},
		"object size": {MaxObjectSize: 4},
	} {
		t.Run(name, func(t *testing.T) {
			p := buckettest.New(objs)
			_, err := (&bucket.Bucket{Provider: p, Limits: tc}).Fetch(ctx, t.TempDir(), "")
			if !errors.Is(err, bucket.ErrLimit) {
				t.Fatalf("Fetch: %v, want ErrLimit", err)
			}
			if p.Gets() != 0 {
				t.Errorf("%d downloads before a cap known from the listing", p.Gets())
			}
		})
	}
	// Sizes the listing understates are enforced on the bytes received.
	p := &lyingSizes{buckettest.New(objs)}
	_, err := (&bucket.Bucket{Provider: p, Limits: bucket.Limits{MaxObjectSize: 4}}).Fetch(ctx, t.TempDir(), "")
	if !errors.Is(err, bucket.ErrLimit) {
		t.Fatalf("understated sizes: %v, want ErrLimit", err)
	}
	_, err = (&bucket.Bucket{Provider: p, Limits: bucket.Limits{MaxSize: 10}, Workers: 1}).Fetch(ctx, t.TempDir(), "")
	if !errors.Is(err, bucket.ErrLimit) {
		t.Fatalf("understated total: %v, want ErrLimit", err)
	}
	if _, err := (&bucket.Bucket{Provider: buckettest.New(objs), Limits: bucket.Limits{MaxObjects: -1, MaxSize: -1, MaxObjectSize: -1}}).Fetch(ctx, t.TempDir(), ""); err != nil {
		t.Fatalf("no caps: %v", err)
	}
}

// lyingSizes reports every object as one byte long in listings and
// downloads.
type lyingSizes struct{ *buckettest.Provider }

func (l *lyingSizes) List(ctx context.Context, prefix string, visit func(bucket.Object) error) error {
	return l.Provider.List(ctx, prefix, func(o bucket.Object) error { o.Size = 1; return visit(o) })
}

func (l *lyingSizes) Get(ctx context.Context, key string) (rc io.ReadCloser, o bucket.Object, err error) {
	rc, o, err = l.Provider.Get(ctx, key)
	o.Size = -1
	return rc, o, err
}

// TestRaceWithWriter: an object deleted between the listing and its
// download is left out, one that changed is indexed with its new ETag.
func TestRaceWithWriter(t *testing.T) {
	p := buckettest.New(map[string]string{"a": "1", "b": "2", "c": "3"})
	p.Fail = func(op, key string) error {
		if op == "get" && key == "a" {
			p.Delete("b")
			p.Put("c", []byte("33"))
		}
		return nil
	}
	dir := t.TempDir()
	snap, err := (&bucket.Bucket{Provider: p, Workers: 1}).Fetch(context.Background(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"a": "1", "c": "33"}, tree(t, dir)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	if got, want := snap.Revision, bucket.Revision(indexOf(t, p, "")); got != want {
		t.Errorf("revision %s, want the final listing's %s", got, want)
	}
}

func TestInvalid(t *testing.T) {
	ctx := context.Background()
	p := buckettest.New(map[string]string{"a": "1"})
	notEmpty := t.TempDir()
	os.WriteFile(filepath.Join(notEmpty, "x"), nil, 0o644)
	for name, tc := range map[string]struct {
		b   *bucket.Bucket
		dir string
	}{
		"no provider":   {&bucket.Bucket{}, t.TempDir()},
		"workers":       {&bucket.Bucket{Provider: p, Workers: -1}, t.TempDir()},
		"no dir":        {&bucket.Bucket{Provider: p}, ""},
		"dir not empty": {&bucket.Bucket{Provider: p}, notEmpty},
	} {
		if _, err := tc.b.Fetch(ctx, tc.dir, ""); !errors.Is(err, source.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	for name, opts := range map[string]bucket.S3Options{
		"no bucket":       {Endpoint: "s3.example.com"},
		"bad bucket name": {Endpoint: "s3.example.com", Bucket: "ab"},
		"http not asked":  {Endpoint: "http://s3.example.com", Bucket: "b"},
		"https insecure":  {Endpoint: "https://s3.example.com", Bucket: "b", Insecure: true},
		"path":            {Endpoint: "s3.example.com/x", Bucket: "b"},
		"half keys":       {Endpoint: "s3.example.com", Bucket: "b", SecretKey: "topsecretvalue"},
		"token alone":     {Endpoint: "s3.example.com", Bucket: "b", SessionToken: "topsecretvalue"},
		"bad CA":          {Endpoint: "s3.example.com", Bucket: "b", CA: []byte("topsecretvalue")},
		"proxy scheme":    {Endpoint: "s3.example.com", Bucket: "b", Proxy: &bucket.Proxy{URL: "ftp://u:topsecretvalue@proxy"}},
		"proxy malformed": {Endpoint: "s3.example.com", Bucket: "b", Proxy: &bucket.Proxy{URL: "u:topsecretvalue@"}},
	} {
		_, err := bucket.NewS3(opts)
		if !errors.Is(err, source.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		} else if strings.Contains(err.Error(), "topsecretvalue") {
			t.Errorf("%s: error shows a secret: %v", name, err)
		}
	}
}

func TestProviderErrorsPassThrough(t *testing.T) {
	p := buckettest.New(map[string]string{"a": "1"})
	p.Fail = func(op, key string) error {
		if op == "get" {
			return &bucket.Error{Op: "get", Key: key, Kind: source.ErrAuth, Detail: "access denied"}
		}
		return nil
	}
	_, err := (&bucket.Bucket{Provider: p}).Fetch(context.Background(), t.TempDir(), "")
	if !errors.Is(err, source.ErrAuth) {
		t.Fatalf("Fetch: %v, want ErrAuth", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = (&bucket.Bucket{Provider: buckettest.New(nil)}).Fetch(ctx, t.TempDir(), "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Fetch: %v", err)
	}
}

func TestFileAndDirectoryKeys(t *testing.T) {
	// Keys that are a file and a directory at once cannot both be
	// written; the fetch fails naming one of them instead of guessing.
	p := buckettest.New(map[string]string{"a": "file", "a/b": "below"})
	_, err := (&bucket.Bucket{Provider: p, Workers: 1}).Fetch(context.Background(), t.TempDir(), "")
	var be *bucket.Error
	if !errors.As(err, &be) || be.Op != "write" {
		t.Fatalf("Fetch: %v, want a write error", err)
	}
	if be.Key != "a" && be.Key != "a/b" {
		t.Errorf("error names %q", be.Key)
	}
}
