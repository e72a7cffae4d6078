package azureblob_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/bucket"
	"github.com/gitopskit/gitopskit/source/bucket/azureblob"
)

func newProvider(t *testing.T, a *azurite, name string, mod func(*azureblob.Options)) *azureblob.Provider {
	t.Helper()
	opts := azureblob.Options{Endpoint: a.Endpoint, Container: name, AccountKey: testKey, Insecure: true}
	if mod != nil {
		mod(&opts)
	}
	p, err := azureblob.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tree returns the regular files under dir (slash path → content).
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
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

// index lists p into a key → ETag map, failing on a key listed twice.
func index(t *testing.T, p bucket.Provider, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := p.List(context.Background(), prefix, func(o bucket.Object) error {
		if _, dup := out[o.Key]; dup {
			return fmt.Errorf("%s listed twice", o.Key)
		}
		out[o.Key] = o.ETag
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFetch(t *testing.T) {
	ctx := context.Background()
	az := startAzurite(t)
	blobs := map[string]string{
		"apps/deploy.yaml":   "kind: Deployment\n",
		"apps/svc.yaml":      "kind: Service\n",
		"infra/a/b/cm.yaml":  "kind: ConfigMap\n",
		"logo.png":           "PNG",
		"empty.yaml":         "",
		"spaces in name.txt": "s\n",
		"ünïcode/ü.yaml":     "u: 1\n",
		"q?x=1&sig=a.yaml":   "q: 1\n",
	}
	az.MakeContainer(t, "manifests", blobs)
	p := newProvider(t, az, "manifests", nil)
	b := &bucket.Bucket{Provider: p, Workers: 4}

	dir := filepath.Join(t.TempDir(), "out")
	snap, err := b.Fetch(ctx, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for k, v := range blobs {
		if k != "logo.png" { // Flux's default exclusions
			want[k] = v
		}
	}
	if diff := cmp.Diff(want, tree(t, dir)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	idx := index(t, p, "")
	if got, want := snap.Revision, bucket.Revision(idx); got != want {
		t.Errorf("revision %s, want %s (the listing's)", got, want)
	}
	// ETags are in Flux's form, which its azure provider computes as
	// fmt.Sprintf("%x", etag) over the SDK's listing: the revision is
	// the one a source-controller reports for this container.
	if diff := cmp.Diff(fluxIndex(t, az, "manifests"), idx); diff != "" {
		t.Errorf("index (-Flux's +ours):\n%s", diff)
	}
	// A download reports the same ETag as the listing.
	rc, obj, err := p.Get(ctx, "apps/svc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	if string(body) != blobs["apps/svc.yaml"] || obj.Size != int64(len(body)) || obj.ETag != idx["apps/svc.yaml"] {
		t.Errorf("Get = %q %+v, listing's ETag %s", body, obj, idx["apps/svc.yaml"])
	}
	raw, err := hexDecode(obj.ETag)
	if err != nil || strings.Contains(raw, `"`) || raw == "" {
		t.Errorf("ETag %q is not the hex of an unquoted ETag (%q, %v)", obj.ETag, raw, err)
	}

	// The same revision again from a fresh Bucket; the no-op check with
	// the last revision downloads nothing.
	again, err := (&bucket.Bucket{Provider: p}).Fetch(ctx, t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if again.Revision != snap.Revision {
		t.Errorf("second fetch: revision %s, want %s", again.Revision, snap.Revision)
	}
	if _, err := b.Fetch(ctx, t.TempDir(), snap.Revision); !errors.Is(err, source.ErrUnchanged) {
		t.Fatalf("no-op: %v", err)
	}

	// An overwritten blob gets a new ETag, and the bucket a new revision.
	az.Put(t, "manifests", map[string]string{"apps/svc.yaml": "kind: Service\nmetadata: {}\n"})
	if got := index(t, p, "")["apps/svc.yaml"]; got == idx["apps/svc.yaml"] {
		t.Error("ETag did not change with an overwrite")
	}
	changedDir := t.TempDir()
	changed, err := b.Fetch(ctx, changedDir, snap.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if changed.Revision == snap.Revision {
		t.Fatal("revision did not change with a blob's content")
	}
	if got := tree(t, changedDir)["apps/svc.yaml"]; got != "kind: Service\nmetadata: {}\n" {
		t.Errorf("changed blob = %q", got)
	}

	// A deleted blob makes a new revision and is gone from the tree; Get
	// reports it as bucket.ErrObjectNotFound.
	az.Delete(t, "manifests", "apps/deploy.yaml")
	delDir := t.TempDir()
	deleted, err := b.Fetch(ctx, delDir, changed.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if deleted.Revision == changed.Revision {
		t.Fatal("revision did not change with a deletion")
	}
	if _, ok := tree(t, delDir)["apps/deploy.yaml"]; ok {
		t.Error("deleted blob still fetched")
	}
	_, _, err = p.Get(ctx, "apps/deploy.yaml")
	if !errors.Is(err, bucket.ErrObjectNotFound) {
		t.Fatalf("Get of a deleted blob: %v", err)
	}
	if want := `bucket get manifests at ` + az.Endpoint + ` object "apps/deploy.yaml": ` + bucket.ErrObjectNotFound.Error() + `: BlobNotFound (HTTP 404)`; err.Error() != want {
		t.Errorf("error text\n got %s\nwant %s", err, want)
	}

	// A prefix is applied by the listing.
	if got := sortedKeys(index(t, p, "infra/")); !cmp.Equal(got, []string{"infra/a/b/cm.yaml"}) {
		t.Errorf("listing under infra/ = %v", got)
	}
}

// fluxIndex lists a container as Flux's azure provider does.
func fluxIndex(t *testing.T, az *azurite, name string) map[string]string {
	t.Helper()
	out := map[string]string{}
	pager := az.admin(t, name).NewListBlobsFlatPager(nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range page.Segment.BlobItems {
			out[*b.Name] = fmt.Sprintf("%x", *b.Properties.ETag)
		}
	}
	return out
}

func hexDecode(s string) (string, error) {
	var b []byte
	_, err := fmt.Sscanf(s, "%x", &b)
	return string(b), err
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestPaging(t *testing.T) {
	ctx := context.Background()
	az := startAzurite(t)
	blobs := map[string]string{}
	for i := range 103 {
		blobs[fmt.Sprintf("k/%03d.yaml", i)] = fmt.Sprintf("n: %d\n", i)
	}
	az.MakeContainer(t, "many", blobs)
	proxy := newCountingProxy(t, "proxy-user", "proxy-Pa55word")
	p := newProvider(t, az, "many", func(o *azureblob.Options) {
		o.PageSize = 10
		o.Proxy = &bucket.Proxy{URL: proxy.URL, Username: "proxy-user", Password: "proxy-Pa55word"}
	})
	dir := t.TempDir()
	if _, err := (&bucket.Bucket{Provider: p, Workers: 8}).Fetch(ctx, dir, ""); err != nil {
		t.Fatal(err)
	}
	got := tree(t, dir)
	if len(got) != len(blobs) {
		t.Fatalf("fetched %d blobs, want %d", len(got), len(blobs))
	}
	if got["k/102.yaml"] != "n: 102\n" {
		t.Errorf("last blob = %q", got["k/102.yaml"])
	}
	if n := proxy.Listings(); n != 11 {
		t.Errorf("%d listing requests through the proxy, want 11 pages of up to 10", n)
	}

	// visit's error stops the listing at once.
	stop := errors.New("stop")
	n := 0
	err := p.List(ctx, "", func(bucket.Object) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("List after visit failed: %v after %d objects", err, n)
	}

	// Wrong proxy credentials are refused by the proxy and not shown.
	bad := newProvider(t, az, "many", func(o *azureblob.Options) {
		o.Proxy = &bucket.Proxy{URL: proxy.URL, Username: "proxy-user", Password: "wrong-Pa55word"}
		o.MaxRetries = -1
	})
	err = bad.List(ctx, "", func(bucket.Object) error { return nil })
	if err == nil || strings.Contains(err.Error(), "wrong-Pa55word") {
		t.Errorf("wrong proxy password: %v", err)
	}
}

func TestAuth(t *testing.T) {
	ctx := context.Background()
	az := startAzurite(t)
	az.MakeContainer(t, "private", map[string]string{"a.yaml": "a: 1\n"})
	visit := func(bucket.Object) error { return nil }
	wrongKey := base64.StdEncoding.EncodeToString([]byte("not-the-account-key-Lq2Xw8Rv"))

	for _, tc := range []struct {
		name    string
		mod     func(*azureblob.Options)
		secrets []string
	}{
		{"wrong account key", func(o *azureblob.Options) { o.AccountKey = wrongKey }, []string{wrongKey}},
		{"unknown account", func(o *azureblob.Options) { o.AccountName = "someoneelse" }, []string{testKey}},
		{"anonymous on a private container", func(o *azureblob.Options) { o.AccountKey = "" }, nil},
		{"token on plain http", func(o *azureblob.Options) {
			o.AccountKey, o.Credential = "", staticToken{token: "tok-Vb7Kq2"}
		}, []string{"tok-Vb7Kq2"}},
		{"token credential failing", func(o *azureblob.Options) {
			o.AccountKey, o.Credential = "", staticToken{err: errors.New("no identity here")}
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, az, "private", tc.mod)
			err := p.List(ctx, "", visit)
			if !errors.Is(err, source.ErrAuth) {
				t.Fatalf("List: %v, want ErrAuth", err)
			}
			_, _, gerr := p.Get(ctx, "a.yaml")
			if !errors.Is(gerr, source.ErrAuth) {
				t.Fatalf("Get: %v, want ErrAuth", gerr)
			}
			for _, e := range []error{err, gerr} {
				for _, s := range tc.secrets {
					if strings.Contains(e.Error(), s) {
						t.Errorf("error holds a secret: %s", e)
					}
				}
			}
			t.Log(err)
		})
	}
}

func TestMissingContainer(t *testing.T) {
	az := startAzurite(t)
	p := newProvider(t, az, "nosuchcontainer", nil)
	err := p.List(context.Background(), "", func(bucket.Object) error { return nil })
	if !errors.Is(err, source.ErrNotFound) {
		t.Fatalf("List: %v, want ErrNotFound", err)
	}
	if want := "bucket list nosuchcontainer at " + az.Endpoint + ": " + source.ErrNotFound.Error() + ": ContainerNotFound (HTTP 404)"; err.Error() != want {
		t.Errorf("error text\n got %s\nwant %s", err, want)
	}
	if _, err := (&bucket.Bucket{Provider: p}).Fetch(context.Background(), t.TempDir(), ""); !errors.Is(err, source.ErrNotFound) {
		t.Errorf("Fetch: %v, want ErrNotFound", err)
	}
}

func TestSAS(t *testing.T) {
	ctx := context.Background()
	az := startAzurite(t)
	blobs := map[string]string{"apps/a.yaml": "a: 1\n", "b.yaml": "b: 2\n"}
	az.MakeContainer(t, "shared", blobs)
	az.MakeContainer(t, "other", blobs)

	token := az.SAS(t, "shared", sas.ContainerPermissions{Read: true, List: true})
	p := newProvider(t, az, "shared", func(o *azureblob.Options) { o.AccountKey, o.SASToken = "", "?"+token })
	dir := t.TempDir()
	if _, err := (&bucket.Bucket{Provider: p}).Fetch(ctx, dir, ""); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(blobs, tree(t, dir)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}

	sig := mustQuery(t, token).Get("sig")
	tampered := mustQuery(t, token)
	tampered.Set("sig", base64.StdEncoding.EncodeToString([]byte("a forged signature of 32 bytes!!")))
	readOnly := az.SAS(t, "shared", sas.ContainerPermissions{Read: true})
	for _, tc := range []struct {
		name, container, token string
	}{
		{"forged signature", "shared", tampered.Encode()},
		{"token of another container", "other", token},
		{"no list permission", "shared", readOnly},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, az, tc.container, func(o *azureblob.Options) { o.AccountKey, o.SASToken = "", tc.token })
			err := p.List(ctx, "", func(bucket.Object) error { return nil })
			if !errors.Is(err, source.ErrAuth) {
				t.Fatalf("List: %v, want ErrAuth", err)
			}
			q := mustQuery(t, tc.token)
			for _, s := range []string{q.Get("sig"), url.QueryEscape(q.Get("sig")), sig, "sig="} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error holds the signature: %s", err)
				}
			}
			t.Log(err)
		})
	}
	// Read alone still downloads a blob.
	ro := newProvider(t, az, "shared", func(o *azureblob.Options) { o.AccountKey, o.SASToken = "", readOnly })
	rc, _, err := ro.Get(ctx, "b.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
}

func mustQuery(t *testing.T, q string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(strings.TrimPrefix(q, "?"))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAnonymous(t *testing.T) {
	az := startAzurite(t)
	blobs := map[string]string{"a.yaml": "a: 1\n"}
	az.MakePublicContainer(t, "public", blobs)
	p := newProvider(t, az, "public", func(o *azureblob.Options) { o.AccountKey = "" })
	dir := t.TempDir()
	if _, err := (&bucket.Bucket{Provider: p}).Fetch(context.Background(), dir, ""); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(blobs, tree(t, dir)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
}

// TestTokenCredential reads a container over HTTPS (the emulator's
// certificate trusted through Options.CA) with a bearer token from the
// pluggable credential, as an azidentity credential would provide it.
func TestTokenCredential(t *testing.T) {
	ctx := context.Background()
	az := startAzuriteTLS(t)
	blobs := map[string]string{"a.yaml": "a: 1\n", "dir/b.yaml": "b: 2\n"}
	az.MakeContainer(t, "entra", blobs)
	token := fakeEntraToken("https://storage.azure.com")
	p, err := azureblob.New(azureblob.Options{
		Endpoint: az.Endpoint, Container: "entra", CA: az.CA,
		Credential: staticToken{token: token},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := (&bucket.Bucket{Provider: p}).Fetch(ctx, dir, ""); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(blobs, tree(t, dir)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}

	// A token for another audience is refused.
	other, err := azureblob.New(azureblob.Options{
		Endpoint: az.Endpoint, Container: "entra", CA: az.CA,
		Credential: staticToken{token: fakeEntraToken("https://vault.azure.net")},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = other.List(ctx, "", func(bucket.Object) error { return nil })
	if !errors.Is(err, source.ErrAuth) {
		t.Fatalf("token for another audience: %v, want ErrAuth", err)
	}
	// Without the CA the server's certificate is not trusted.
	untrusted, err := azureblob.New(azureblob.Options{
		Endpoint: az.Endpoint, Container: "entra", MaxRetries: -1,
		Credential: staticToken{token: token},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = untrusted.List(ctx, "", func(bucket.Object) error { return nil })
	if !errors.Is(err, source.ErrNetwork) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: %v, want ErrNetwork", err)
	}
}

// fakeEntraToken returns an unsigned JWT shaped like a Microsoft Entra ID
// access token for audience aud: Azurite's basic OAuth mode checks the
// claims, not the signature.
func fakeEntraToken(aud string) string {
	enc := base64.RawURLEncoding.EncodeToString
	now := time.Now().Unix()
	header := enc([]byte(`{"alg":"RS256","typ":"JWT"}`))
	claims := enc(fmt.Appendf(nil, `{"aud":%q,"iss":"https://sts.windows.net/ab1f708d-50f6-404c-a006-d71b2ac7a606/","iat":%d,"nbf":%d,"exp":%d,"oid":"b7f5a0f6-3c5c-4a3e-9a8e-5f1c1b1d2e3f","tid":"ab1f708d-50f6-404c-a006-d71b2ac7a606"}`,
		aud, now-60, now-60, now+3600))
	return header + "." + claims + "." + enc([]byte("not-a-signature"))
}

// TestTimeout: a server that accepts connections and never answers is a
// network failure once the context's deadline passes.
func TestTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	p, err := azureblob.New(azureblob.Options{
		Endpoint: "http://" + l.Addr().String() + "/acct", Container: "ctr", Insecure: true,
		SASToken: "sv=2024-01-01&sig=c2VjcmV0LXNpZ25hdHVyZQ%3D%3D",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = p.List(ctx, "", func(bucket.Object) error { return nil })
	if !errors.Is(err, source.ErrNetwork) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("List: %v, want ErrNetwork and DeadlineExceeded", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("List took %s after a 300ms deadline", time.Since(start))
	}
	if strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("error holds the signature: %s", err)
	}
	// A refused connection is a network failure too, and its text (the
	// client's holds the request URL) carries no SAS token.
	addr := l.Addr().String()
	l.Close()
	p, err = azureblob.New(azureblob.Options{
		Endpoint: "http://" + addr + "/acct", Container: "ctr", Insecure: true, MaxRetries: -1,
		SASToken: "sv=2024-01-01&sig=c2VjcmV0LXNpZ25hdHVyZQ%3D%3D",
	})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = p.Get(context.Background(), "x.yaml")
	if !errors.Is(err, source.ErrNetwork) || strings.Contains(err.Error(), "c2VjcmV0") || strings.Contains(err.Error(), "sig=") {
		t.Fatalf("Get on a closed port: %v", err)
	}
	t.Log(err)
}
