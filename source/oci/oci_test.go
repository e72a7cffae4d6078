package oci_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func readTree(t *testing.T, dir string) map[string]string {
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

func push(t *testing.T, reg *ocitest.Registry, repo, tag string, files map[string]string) oci.PushResult {
	t.Helper()
	res, err := reg.PushFiles(ctx(t), repo, tag, files, oci.PushOptions{
		Source: "https://example.com/repo.git", Revision: "main@sha1:0123456789abcdef0123456789abcdef01234567",
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestFetchTag(t *testing.T) {
	reg := ocitest.New(t)
	pushed := push(t, reg, "app", "v1.0.0", map[string]string{"a.yaml": "a: 1\n", "dir/b.yaml": "b: 2\n"})
	repo := &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v1.0.0"}, Client: reg.Client()}
	dir := filepath.Join(t.TempDir(), "out")
	snap, err := repo.Fetch(ctx(t), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1.0.0@" + pushed.Digest; snap.Revision != want || pushed.Revision != want {
		t.Errorf("revision %q (push said %q), want %q", snap.Revision, pushed.Revision, want)
	}
	if got := readTree(t, dir); got["a.yaml"] != "a: 1\n" || got["dir/b.yaml"] != "b: 2\n" || len(got) != 2 {
		t.Errorf("tree %v", got)
	}
	if snap.Metadata[oci.SourceAnnotation] != "https://example.com/repo.git" ||
		snap.Metadata[oci.RevisionAnnotation] != "main@sha1:0123456789abcdef0123456789abcdef01234567" ||
		snap.Metadata[oci.CreatedAnnotation] != "2026-01-02T03:04:05Z" {
		t.Errorf("metadata %v", snap.Metadata)
	}
}

func TestFetchDefaultTagIsLatest(t *testing.T) {
	reg := ocitest.New(t)
	pushed := push(t, reg, "app", "", map[string]string{"x": "1"})
	repo := &oci.Repository{URL: reg.URL("app"), Client: reg.Client()}
	snap, err := repo.Fetch(ctx(t), t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != "latest@"+pushed.Digest {
		t.Errorf("revision %q", snap.Revision)
	}
}

func TestFetchSemVer(t *testing.T) {
	reg := ocitest.New(t)
	digests := map[string]string{}
	for _, tag := range []string{"v1.0.0", "v1.2.0", "v1.3.0-rc.1", "v2.0.0", "1.5", "latest", "prod-1.4.0", "v1.2.1"} {
		digests[tag] = push(t, reg, "app", tag, map[string]string{"version": tag}).Digest
	}
	cases := []struct{ semver, filter, want string }{
		{"1.x", "", "v1.2.1"},
		{">=1.0.0 <2.0.0", "", "v1.2.1"},
		{">=1.3.0-0 <2.0.0", "", "v1.3.0-rc.1"},
		{"*", "", "v2.0.0"},
		{"1.x", `^v1\.2\.0$`, "v1.2.0"},
		{"1.x", `^prod-`, ""},
		{"3.x", "", ""},
	}
	for _, c := range cases {
		repo := &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{SemVer: c.semver, SemVerFilter: c.filter}, Client: reg.Client()}
		dir := t.TempDir()
		snap, err := repo.Fetch(ctx(t), dir, "")
		if c.want == "" {
			if !errors.Is(err, source.ErrRefNotFound) {
				t.Errorf("%s %s: err %v, want ErrRefNotFound", c.semver, c.filter, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.semver, err)
			continue
		}
		if snap.Revision != c.want+"@"+digests[c.want] {
			t.Errorf("%s %s: revision %q, want tag %s", c.semver, c.filter, snap.Revision, c.want)
		}
		if got := readTree(t, dir)["version"]; got != c.want {
			t.Errorf("%s: content %q", c.semver, got)
		}
	}
	bad := &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{SemVer: "1.x", SemVerFilter: "("}, Client: reg.Client()}
	if _, err := bad.Fetch(ctx(t), t.TempDir(), ""); !errors.Is(err, source.ErrInvalid) {
		t.Errorf("bad filter: %v", err)
	}
}

func TestFetchDigestAndPrecedence(t *testing.T) {
	reg := ocitest.New(t)
	one := push(t, reg, "app", "v1.0.0", map[string]string{"v": "1"})
	two := push(t, reg, "app", "v2.0.0", map[string]string{"v": "2"})
	three := push(t, reg, "app", "tagged", map[string]string{"v": "3"})
	cases := []struct {
		ref     oci.Reference
		want, v string
	}{
		{oci.Reference{Digest: one.Digest, SemVer: "2.x", Tag: "tagged"}, one.Digest, "1"},
		{oci.Reference{SemVer: "2.x", Tag: "tagged"}, "v2.0.0@" + two.Digest, "2"},
		{oci.Reference{Tag: "tagged"}, "tagged@" + three.Digest, "3"},
	}
	for _, c := range cases {
		repo := &oci.Repository{URL: reg.URL("app"), Ref: c.ref, Client: reg.Client()}
		dir := t.TempDir()
		snap, err := repo.Fetch(ctx(t), dir, "")
		if err != nil {
			t.Fatal(err)
		}
		if snap.Revision != c.want || readTree(t, dir)["v"] != c.v {
			t.Errorf("%+v: revision %q, want %q", c.ref, snap.Revision, c.want)
		}
	}
}

func TestNoOpMakesNoBlobRequest(t *testing.T) {
	var blobGets atomic.Int32
	count := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/blobs/") && r.Method == http.MethodGet {
				blobGets.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	}
	reg := ocitest.New(t, ocitest.WithMiddleware(count))
	pushed := push(t, reg, "app", "v1.0.0", map[string]string{"x": "1"})
	for _, ref := range []oci.Reference{{Tag: "v1.0.0"}, {SemVer: "1.x"}, {Digest: pushed.Digest}} {
		repo := &oci.Repository{URL: reg.URL("app"), Ref: ref, Client: reg.Client()}
		reg.ResetRequests()
		blobGets.Store(0)
		last := pushed.Revision
		if ref.Digest != "" {
			last = pushed.Digest
		}
		dir := filepath.Join(t.TempDir(), "out")
		snap, err := repo.Fetch(ctx(t), dir, last)
		if !errors.Is(err, source.ErrUnchanged) {
			t.Fatalf("%+v: err %v, want ErrUnchanged", ref, err)
		}
		if snap.Revision != last {
			t.Errorf("revision %q", snap.Revision)
		}
		for _, r := range reg.Requests() {
			if r.IsBlob() || (r.IsManifest() && r.Method != http.MethodHead) {
				t.Errorf("%+v: no-op check made %s %s", ref, r.Method, r.Path)
			}
		}
		if blobGets.Load() != 0 {
			t.Errorf("%d blob GETs", blobGets.Load())
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("no-op wrote %s", dir)
		}
	}
}

func TestHeadRefusedFallsBackToGet(t *testing.T) {
	var refuse atomic.Bool
	noHead := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if refuse.Load() && r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/manifests/") {
				w.WriteHeader(http.StatusMethodNotAllowed)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	reg := ocitest.New(t, ocitest.WithMiddleware(noHead))
	pushed := push(t, reg, "app", "v1", map[string]string{"x": "1"})
	refuse.Store(true)
	repo := &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v1"}, Client: reg.Client()}
	reg.ResetRequests()
	if _, err := repo.Fetch(ctx(t), t.TempDir(), pushed.Revision); !errors.Is(err, source.ErrUnchanged) {
		t.Fatalf("err %v", err)
	}
	gets := 0
	for _, r := range reg.Requests() {
		if r.IsBlob() {
			t.Errorf("blob request %s %s", r.Method, r.Path)
		}
		if r.IsManifest() && r.Method == http.MethodGet {
			gets++
		}
	}
	if gets != 1 {
		t.Errorf("%d manifest GETs, want 1", gets)
	}
	dir := t.TempDir()
	if _, err := repo.Fetch(ctx(t), dir, ""); err != nil || readTree(t, dir)["x"] != "1" {
		t.Errorf("fetch without HEAD: %v", err)
	}
}

func TestLayerSelection(t *testing.T) {
	reg := ocitest.New(t)
	chart := []byte("not really a chart, but a blob")
	d, err := reg.PushLayers(ctx(t), "mixed", "v1", map[string]string{oci.RevisionAnnotation: "r1"},
		ocitest.Layer{MediaType: oci.ContentMediaType, Data: ocitest.TarGz(map[string]string{"first.yaml": "1"})},
		ocitest.Layer{MediaType: "application/vnd.example.second.tar+gzip", Data: ocitest.TarGz(map[string]string{"second.yaml": "2"})},
		ocitest.Layer{MediaType: oci.HelmChartLayerMediaType, Data: chart},
	)
	if err != nil {
		t.Fatal(err)
	}
	base := oci.Repository{URL: reg.URL("mixed"), Ref: oci.Reference{Tag: "v1"}, Client: reg.Client()}

	dir := t.TempDir()
	r := base
	snap, err := r.Fetch(ctx(t), dir, "")
	if err != nil || snap.Revision != "v1@"+d {
		t.Fatalf("default: %v %q", err, snap.Revision)
	}
	if got := readTree(t, dir); len(got) != 1 || got["first.yaml"] != "1" {
		t.Errorf("default layer: %v", got)
	}

	dir = t.TempDir()
	r = base
	r.Layer = oci.LayerSelector{MediaType: "application/vnd.example.second.tar+gzip"}
	if _, err := r.Fetch(ctx(t), dir, ""); err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, dir); len(got) != 1 || got["second.yaml"] != "2" {
		t.Errorf("second layer: %v", got)
	}

	dir = t.TempDir()
	r = base
	r.Layer = oci.LayerSelector{MediaType: oci.HelmChartLayerMediaType, Operation: oci.LayerCopy, CopyName: "chart.tgz"}
	if _, err := r.Fetch(ctx(t), dir, ""); err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, dir); len(got) != 1 || got["chart.tgz"] != string(chart) {
		t.Errorf("copied layer: %v", got)
	}

	r = base
	r.Layer = oci.LayerSelector{MediaType: "application/none"}
	if _, err := r.Fetch(ctx(t), t.TempDir(), ""); !errors.Is(err, source.ErrRefNotFound) {
		t.Errorf("missing media type: %v", err)
	}
	r = base
	r.Layer = oci.LayerSelector{Operation: "move"}
	if _, err := r.Fetch(ctx(t), t.TempDir(), ""); !errors.Is(err, source.ErrInvalid) {
		t.Errorf("bad operation: %v", err)
	}
}

func TestCorruptedBlobRefused(t *testing.T) {
	reg := ocitest.New(t)
	pushed := push(t, reg, "app", "v1", map[string]string{"x": strings.Repeat("data ", 100)})
	blob := make([]byte, pushed.LayerSize) // same size, other content
	copy(blob, "corrupted")
	if err := reg.CorruptBlob(pushed.LayerDigest, blob); err != nil {
		t.Fatal(err)
	}
	for _, op := range []oci.LayerOperation{oci.LayerExtract, oci.LayerCopy} {
		repo := &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v1"}, Client: reg.Client(), Layer: oci.LayerSelector{Operation: op}}
		dir := filepath.Join(t.TempDir(), "out")
		_, err := repo.Fetch(ctx(t), dir, "")
		if !errors.Is(err, source.ErrVerification) {
			t.Fatalf("%s: err %v, want ErrVerification", op, err)
		}
		if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
			t.Errorf("%s: a refused blob left %s", op, dir)
		}
		entries, _ := os.ReadDir(filepath.Dir(dir))
		if len(entries) != 0 {
			t.Errorf("%s: left %v", op, entries)
		}
	}
	// A blob of another size is refused too.
	if err := reg.CorruptBlob(pushed.LayerDigest, []byte("short")); err != nil {
		t.Fatal(err)
	}
	repo := &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v1"}, Client: reg.Client()}
	if _, err := repo.Fetch(ctx(t), t.TempDir(), ""); !errors.Is(err, source.ErrVerification) {
		t.Fatalf("short blob: err %v, want ErrVerification", err)
	}
}

func TestCaps(t *testing.T) {
	reg := ocitest.New(t)
	push(t, reg, "app", "v1", map[string]string{"big": strings.Repeat("0123456789", 10_000), "small": "s"})
	c := reg.Client()

	repo := &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v1"}, Client: c, MaxLayerSize: 10}
	if _, err := repo.Fetch(ctx(t), t.TempDir(), ""); !errors.Is(err, oci.ErrTooLarge) {
		t.Errorf("layer cap: %v", err)
	}
	repo = &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v1"}, Client: c, Unpack: artifact.UnpackOptions{MaxSize: 1000}}
	if _, err := repo.Fetch(ctx(t), t.TempDir(), ""); !errors.Is(err, oci.ErrTooLarge) {
		t.Errorf("unpack cap: %v", err)
	}
	repo = &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v1"}, Client: c, Unpack: artifact.UnpackOptions{MaxEntries: 1}}
	if _, err := repo.Fetch(ctx(t), t.TempDir(), ""); !errors.Is(err, oci.ErrTooLarge) {
		t.Errorf("entry cap: %v", err)
	}
	small := c
	small.MaxManifestSize = 64
	repo = &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v1"}, Client: small}
	if _, err := repo.Fetch(ctx(t), t.TempDir(), ""); !errors.Is(err, oci.ErrTooLarge) {
		t.Errorf("manifest cap: %v", err)
	}
}

func TestBasicAuth(t *testing.T) {
	const password = "s3cr3t-Passw0rd"
	reg := ocitest.New(t, ocitest.WithBasicAuth("alice", password), ocitest.WithTLS())
	pushed := push(t, reg, "app", "v1", map[string]string{"x": "1"})

	good := &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v1"}, Client: reg.Client()}
	if snap, err := good.Fetch(ctx(t), t.TempDir(), ""); err != nil || snap.Revision != pushed.Revision {
		t.Fatalf("with credentials: %v", err)
	}

	anon := reg.Client()
	anon.Auth = nil
	r := &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v1"}, Client: anon}
	if _, err := r.Fetch(ctx(t), t.TempDir(), ""); !errors.Is(err, source.ErrAuth) {
		t.Errorf("anonymous: err %v, want ErrAuth", err)
	}

	wrong := reg.Client()
	wrong.Auth = &oci.Auth{Username: "alice", Password: "wr0ng-" + password}
	r = &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v1"}, Client: wrong}
	_, err := r.Fetch(ctx(t), t.TempDir(), "")
	if !errors.Is(err, source.ErrAuth) {
		t.Fatalf("wrong password: err %v, want ErrAuth", err)
	}
	if msg := err.Error(); strings.Contains(msg, password) || !strings.Contains(msg, reg.Host+"/app:v1") {
		t.Errorf("error text %q leaks the password or misses the reference", msg)
	}

	plain := reg.Client()
	plain.TLS = nil
	r = &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v1"}, Client: plain}
	if _, err := r.Fetch(ctx(t), t.TempDir(), ""); !errors.Is(err, source.ErrNetwork) {
		t.Errorf("untrusted certificate: %v", err)
	}
}

func TestDockerConfigKeychain(t *testing.T) {
	reg := ocitest.New(t, ocitest.WithBasicAuth("bob", "hunter22"))
	pushed := push(t, reg, "app", "v1", map[string]string{"x": "1"})
	cfg := `{"auths":{"http://` + reg.Host + `/v1/":{"auth":"Ym9iOmh1bnRlcjIy"}}}`
	kc, err := oci.KeychainFromDockerConfig([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	c := reg.Client()
	c.Auth, c.Keychain = nil, kc
	r := &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v1"}, Client: c}
	if snap, err := r.Fetch(ctx(t), t.TempDir(), ""); err != nil || snap.Revision != pushed.Revision {
		t.Fatalf("keychain: %v", err)
	}
	if _, err := oci.KeychainFromDockerConfig([]byte(`{"auths":{"h":{"auth":"!!!"}}}`)); !errors.Is(err, source.ErrInvalid) {
		t.Errorf("bad auth: %v", err)
	}
}

func TestPlainHTTPRefusedWithoutInsecure(t *testing.T) {
	reg := ocitest.New(t)
	push(t, reg, "app", "v1", map[string]string{"x": "1"})
	c := reg.Client()
	c.Insecure = false
	r := &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v1"}, Client: c}
	if _, err := r.Fetch(ctx(t), t.TempDir(), ""); err == nil {
		t.Fatal("plain HTTP accepted without Insecure")
	}
}

func TestPushRoundTripStable(t *testing.T) {
	reg := ocitest.New(t)
	src := t.TempDir()
	files := map[string]string{"k/deploy.yaml": "kind: Deployment\n", "k/svc.yaml": "kind: Service\n", "README": "r"}
	for p, c := range files {
		full := filepath.Join(src, filepath.FromSlash(p))
		_ = os.MkdirAll(filepath.Dir(full), 0o750)
		if err := os.WriteFile(full, []byte(c), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	c := reg.Client()
	opts := oci.PushOptions{Created: time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC), Revision: "v1@sha1:0123456789abcdef0123456789abcdef01234567"}
	first, err := c.Push(ctx(t), reg.URL("rt"), "v1", src, opts)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Push(ctx(t), reg.URL("rt"), "v2", src, opts)
	if err != nil {
		t.Fatal(err)
	}
	if first.Digest != second.Digest || first.LayerDigest != second.LayerDigest {
		t.Errorf("same content, different digests: %s %s", first, second)
	}
	got, err := c.Resolve(ctx(t), reg.URL("rt"), "v2")
	if err != nil || got != first.Digest {
		t.Errorf("resolve v2: %q %v", got, err)
	}
	if err := c.Tag(ctx(t), reg.URL("rt"), first.Digest, "stable"); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListTags(ctx(t), reg.URL("rt"))
	if err != nil || strings.Join(tags, ",") != "stable,v1,v2" {
		t.Errorf("tags %v %v", tags, err)
	}
	dir := t.TempDir()
	r := &oci.Repository{URL: reg.URL("rt"), Ref: oci.Reference{Tag: "stable"}, Client: c}
	snap, err := r.Fetch(ctx(t), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != "stable@"+first.Digest {
		t.Errorf("revision %q", snap.Revision)
	}
	got2 := readTree(t, dir)
	for p, want := range files {
		if got2[p] != want {
			t.Errorf("%s: %q", p, got2[p])
		}
	}
	// The copied layer is the pushed archive, byte for byte.
	cdir := t.TempDir()
	r.Layer = oci.LayerSelector{Operation: oci.LayerCopy}
	if _, err := r.Fetch(ctx(t), cdir, ""); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(cdir, oci.DefaultCopyName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := artifact.VerifyDigest(f, first.LayerDigest); err != nil {
		t.Error(err)
	}
}

func TestNotFound(t *testing.T) {
	reg := ocitest.New(t)
	push(t, reg, "app", "v1", map[string]string{"x": "1"})
	r := &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v9"}, Client: reg.Client()}
	if _, err := r.Fetch(ctx(t), t.TempDir(), ""); !errors.Is(err, source.ErrRefNotFound) {
		t.Errorf("missing tag: %v", err)
	}
}

type refuseAll struct{ got oci.VerifyTarget }

func (v *refuseAll) Verify(_ context.Context, t oci.VerifyTarget) error {
	v.got = t
	return errors.New("no signature")
}

func TestVerifierHook(t *testing.T) {
	reg := ocitest.New(t)
	pushed := push(t, reg, "app", "v1", map[string]string{"x": "1"})
	v := &refuseAll{}
	r := &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v1"}, Client: reg.Client(), Verify: v}
	reg.ResetRequests()
	_, err := r.Fetch(ctx(t), t.TempDir(), "")
	if !errors.Is(err, source.ErrVerification) || !strings.Contains(err.Error(), pushed.Digest) {
		t.Fatalf("err %v", err)
	}
	if v.got.Digest != pushed.Digest || v.got.Tag != "v1" || v.got.Reference != pushed.Reference {
		t.Errorf("target %+v", v.got)
	}
	for _, rq := range reg.Requests() {
		if rq.IsBlob() {
			t.Errorf("downloaded before verification: %s", rq.Path)
		}
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, r := range []oci.Repository{
		{URL: "https://host/app"},
		{URL: "oci://host/app:v1"},
		{URL: "oci://user:pw@host/app"},
		{URL: "oci://host/app", Ref: oci.Reference{Digest: "sha256:xyz"}},
		{URL: "oci://host/app", Ref: oci.Reference{SemVer: "not a range"}},
		{URL: "oci://host/app", Ref: oci.Reference{Tag: "bad tag"}},
		{URL: "oci://host/app", Layer: oci.LayerSelector{Operation: oci.LayerCopy, CopyName: "../x"}},
		{URL: "oci://host/app", Client: oci.Client{Auth: &oci.Auth{}, Keychain: &fakeKeychain{}}},
	} {
		_, err := r.Fetch(context.Background(), t.TempDir(), "")
		if !errors.Is(err, source.ErrInvalid) {
			t.Errorf("%+v: err %v, want ErrInvalid", r, err)
		}
		if strings.Contains(fmtErr(err), ":pw@") {
			t.Errorf("leaks userinfo: %v", err)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
