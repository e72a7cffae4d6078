package helm_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/helm"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
)

func addCharts(t *testing.T, srv *helmtest.Server, name string, versions ...string) {
	t.Helper()
	for _, v := range versions {
		if _, err := srv.AddChart(map[string]string{
			"Chart.yaml":       "apiVersion: v2\nname: " + name + "\nversion: " + v + "\n",
			"values.yaml":      "version: " + v + "\nnested:\n  a: 1\n  b: 2\n",
			"values-prod.yaml": "nested:\n  b: 3\nprod: true\n",
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRepositoryFetch(t *testing.T) {
	srv := helmtest.New(t)
	addCharts(t, srv, "app", "1.0.0", "1.1.0")
	repo := srv.Repository()
	dir := filepath.Join(t.TempDir(), "index")
	snap, err := repo.Fetch(context.Background(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	served := srv.Index()
	sum := sha256.Sum256(served)
	if want := "sha256:" + hex.EncodeToString(sum[:]); snap.Revision != want {
		t.Fatalf("revision %s, want %s", snap.Revision, want)
	}
	got, err := os.ReadFile(filepath.Join(dir, helm.IndexFileName))
	if err != nil || string(got) != string(served) {
		t.Fatalf("index.yaml written %q (%v)", got, err)
	}
	if snap.Metadata["entries"] != "1" {
		t.Errorf("metadata %v", snap.Metadata)
	}
	empty := filepath.Join(t.TempDir(), "again")
	if _, err := repo.Fetch(context.Background(), empty, snap.Revision); !errors.Is(err, source.ErrUnchanged) {
		t.Fatalf("same index: %v", err)
	}
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Errorf("unchanged fetch wrote %s", empty)
	}
	addCharts(t, srv, "app", "1.2.0")
	snap2, err := repo.Fetch(context.Background(), filepath.Join(t.TempDir(), "new"), snap.Revision)
	if err != nil || snap2.Revision == snap.Revision {
		t.Fatalf("changed index: %v, %s", err, snap2.Revision)
	}
}

func TestRepositoryIndexHostile(t *testing.T) {
	bomb := "apiVersion: v1\nentries:\n  a: &a [{name: a, version: 1.0.0, urls: [x]}]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		bomb += "  " + n + ": &" + n + " [" + strings.Repeat("*"+prev+",", 9) + "*" + prev + "]\n"
		prev = n
	}
	tests := []struct {
		name   string
		index  string
		max    int64
		want   error
		detail string
	}{
		{"alias bomb", bomb, 0, source.ErrInvalid, "aliases"},
		{"over the cap", "apiVersion: v1\nentries: {}\n" + strings.Repeat("# padding\n", 200), 1000, helm.ErrTooLarge, "cap of 1000"},
		{"no apiVersion", "entries: {}\n", 0, source.ErrInvalid, "apiVersion"},
		{"not YAML", "apiVersion: v1\nentries: [\n", 0, source.ErrInvalid, "does not parse"},
		{"bad JSON", `{"apiVersion": "v1", "entries": {"a": 1}}`, 0, source.ErrInvalid, "JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := helmtest.New(t)
			srv.SetIndex([]byte(tc.index))
			repo := srv.Repository()
			repo.MaxIndexSize = tc.max
			_, err := repo.Fetch(context.Background(), t.TempDir(), "")
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("got %v, want %v with %q", err, tc.want, tc.detail)
			}
			var e *helm.Error
			if !errors.As(err, &e) || e.Origin != "helm" || e.Op != "index" || e.Subject != srv.URL {
				t.Errorf("error %#v", err)
			}
		})
	}
}

func TestParseIndex(t *testing.T) {
	ix, err := helm.ParseIndex([]byte(`{"apiVersion":"v1","entries":{"app":[
		{"name":"app","version":"1.0.0","urls":["app-1.0.0.tgz"]},
		{"name":"app","version":"not-semver","urls":["x.tgz"]},
		{"name":"app","version":"2.0.0"},
		{"name":"app","version":"1.10.0","urls":["app-1.10.0.tgz"]},
		{"name":"app","version":"1.2.0","urls":["app-1.2.0.tgz"]}],
		"empty":[{"name":"empty","version":"bad","urls":["x"]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range ix.Entries["app"] {
		got = append(got, v.Version)
	}
	if strings.Join(got, ",") != "1.10.0,1.2.0,1.0.0" {
		t.Errorf("entries %v", got)
	}
	if _, ok := ix.Entries["empty"]; ok {
		t.Error("a chart without a valid version was kept")
	}
}

func TestIndexGet(t *testing.T) {
	ix, err := helm.ParseIndex([]byte(`apiVersion: v1
entries:
  app:
  - {name: app, version: 1.0.0, urls: [a]}
  - {name: app, version: 1.5.0, urls: [a]}
  - {name: app, version: 2.0.0-rc.1, urls: [a]}
  - {name: app, version: v1.6.0, urls: [a]}
  - {name: app, version: 0.9.0+build.1, urls: [a]}
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rng, want string
		err       error
	}{
		{"", "v1.6.0", nil},
		{"*", "v1.6.0", nil},
		{"1.0.0", "1.0.0", nil},
		{"~1.5", "1.5.0", nil},
		{"<1.0.0", "0.9.0+build.1", nil},
		{">=2.0.0-0", "2.0.0-rc.1", nil},
		{"2.0.0-rc.1", "2.0.0-rc.1", nil},
		{"v1.6.0", "v1.6.0", nil},
		{">=3", "", source.ErrRefNotFound},
		{"not a range", "", source.ErrInvalid},
	}
	for _, tc := range tests {
		cv, err := ix.Get("app", tc.rng)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%q: got %v, want %v", tc.rng, err, tc.err)
			}
			continue
		}
		if err != nil || cv.Version != tc.want {
			t.Errorf("%q: got %v %v, want %s", tc.rng, cv, err, tc.want)
		}
	}
	if _, err := ix.Get("other", ""); !errors.Is(err, source.ErrRefNotFound) {
		t.Errorf("missing chart: %v", err)
	}
}

func TestResolveURL(t *testing.T) {
	tests := []struct{ base, ref, want string }{
		{"https://h/charts", "app-1.0.0.tgz", "https://h/charts/app-1.0.0.tgz"},
		{"https://h/charts/", "app-1.0.0.tgz", "https://h/charts/app-1.0.0.tgz"},
		{"https://h/charts", "/other/app.tgz", "https://h/other/app.tgz"},
		{"https://h/charts", "../up/app.tgz", "https://h/up/app.tgz"},
		{"https://h/charts", "https://cdn/app.tgz", "https://cdn/app.tgz"},
		{"https://h/charts?sig=abc", "app.tgz", "https://h/charts/app.tgz?sig=abc"},
		{"https://h", "app.tgz", "https://h/app.tgz"},
		{"https://h/charts?sig=abc", "app.tgz?v=1", "https://h/charts/app.tgz?sig=abc"},
		{"https://h/charts", "app.tgz?v=1", "https://h/charts/app.tgz"},
	}
	for _, tc := range tests {
		got, err := helm.ResolveURL(tc.base, tc.ref)
		if err != nil || got != tc.want {
			t.Errorf("ResolveURL(%q, %q) = %q, %v; want %q", tc.base, tc.ref, got, err, tc.want)
		}
	}
}

func TestRepositoryAuth(t *testing.T) {
	const password = "hunter2-secret"
	srv := helmtest.New(t, helmtest.WithBasicAuth("user", password))
	addCharts(t, srv, "app", "1.0.0")

	anon := &helm.Repository{URL: srv.URL}
	if _, err := anon.Index(context.Background()); !errors.Is(err, source.ErrAuth) {
		t.Fatalf("anonymous: %v", err)
	}
	wrong := &helm.Repository{URL: srv.URL, Client: helm.Client{Auth: &helm.BasicAuth{Username: "user", Password: password + "x"}}}
	_, err := wrong.Index(context.Background())
	if !errors.Is(err, source.ErrAuth) || strings.Contains(err.Error(), password) {
		t.Fatalf("wrong password: %v", err)
	}
	withUserinfo := &helm.Repository{URL: strings.Replace(srv.URL, "://", "://user:"+password+"@", 1)}
	_, err = withUserinfo.Index(context.Background())
	if !errors.Is(err, source.ErrInvalid) || strings.Contains(err.Error(), password) {
		t.Fatalf("credentials in the URL: %v", err)
	}
	c := &helm.Chart{Repository: srv.Repository(), Name: "app"}
	if _, err := c.Pull(context.Background(), t.TempDir()); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4", len(reqs))
	}
	for _, r := range reqs[2:] {
		if !r.Authorized {
			t.Errorf("%s without credentials", r.Path)
		}
	}
}

// Credentials go to the repository's host only, unless PassCredentials.
func TestPassCredentials(t *testing.T) {
	index := helmtest.New(t, helmtest.WithBasicAuth("user", "pass-word"))
	charts := helmtest.New(t, helmtest.WithBasicAuth("user", "pass-word"))
	for _, s := range []*helmtest.Server{index, charts} {
		addCharts(t, s, "app", "1.0.0")
	}
	index.SetChartURL("app", "1.0.0", charts.URL+"/charts/app-1.0.0.tgz")

	c := &helm.Chart{Repository: index.Repository(), Name: "app"}
	_, err := c.Pull(context.Background(), t.TempDir())
	if !errors.Is(err, source.ErrAuth) {
		t.Fatalf("without passCredentials: %v", err)
	}
	for _, r := range charts.Requests() {
		if r.HasAuth {
			t.Fatalf("credentials sent to the other host: %+v", r)
		}
	}
	c.Repository.Client.PassCredentials = true
	if _, err := c.Pull(context.Background(), t.TempDir()); err != nil {
		t.Fatalf("with passCredentials: %v", err)
	}
}

func TestRepositoryTLS(t *testing.T) {
	srv := helmtest.New(t, helmtest.WithTLS())
	addCharts(t, srv, "app", "1.0.0")
	untrusted := &helm.Repository{URL: srv.URL}
	if _, err := untrusted.Index(context.Background()); !errors.Is(err, source.ErrNetwork) {
		t.Fatalf("untrusted server: %v", err)
	}
	if _, err := srv.Repository().Index(context.Background()); err != nil {
		t.Fatal(err)
	}
	bad := &helm.Repository{URL: srv.URL, Client: helm.Client{TLS: &helm.TLS{CA: []byte("not PEM")}}}
	if _, err := bad.Index(context.Background()); !errors.Is(err, source.ErrInvalid) {
		t.Fatalf("bad CA: %v", err)
	}
}

// clientCert issues a CA and a client certificate, in PEM.
func clientCert(t *testing.T) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func TestRepositoryClientCertificate(t *testing.T) {
	caPEM, certPEM, keyPEM := clientCert(t)
	srv := helmtest.New(t, helmtest.WithClientCA(caPEM))
	addCharts(t, srv, "app", "1.0.0")
	cache := helm.NewIndexCache(helm.CacheOptions{})
	repo := srv.Repository()
	repo.Cache = cache
	if _, err := repo.Index(context.Background()); !errors.Is(err, source.ErrNetwork) {
		t.Fatalf("without a client certificate: %v", err)
	}
	withCert := srv.Repository()
	withCert.Cache = cache
	withCert.Client.TLS.CertPEM, withCert.Client.TLS.KeyPEM = certPEM, keyPEM
	c := &helm.Chart{Repository: withCert, Name: "app"}
	if _, err := c.Pull(context.Background(), t.TempDir()); err != nil {
		t.Fatal(err)
	}
	// The index the certificate fetched is not served from the cache to a
	// client without it.
	if _, err := repo.Index(context.Background()); !errors.Is(err, source.ErrNetwork) {
		t.Fatalf("without a client certificate, after a cached fetch: %v", err)
	}
	repo = withCert
	repo.Client.TLS.KeyPEM = nil
	if _, err := repo.Index(context.Background()); !errors.Is(err, source.ErrInvalid) {
		t.Fatalf("certificate without key: %v", err)
	}
}

// A forward proxy that checks its own credentials carries the requests.
func TestRepositoryProxy(t *testing.T) {
	srv := helmtest.New(t)
	addCharts(t, srv, "app", "1.0.0")
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Proxy-Authorization") == "" {
			http.Error(w, "proxy auth", http.StatusProxyAuthRequired)
			return
		}
		proxied.Add(1)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, r.URL.String(), nil)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(proxy.Close)
	repo := srv.Repository()
	repo.Client.Proxy = strings.Replace(proxy.URL, "://", "://proxyuser:proxy-pass@", 1)
	c := &helm.Chart{Repository: repo, Name: "app"}
	if _, err := c.Pull(context.Background(), t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if proxied.Load() != 2 {
		t.Errorf("%d requests through the proxy, want 2", proxied.Load())
	}
	repo.Client.Proxy = proxy.URL
	_, err := repo.Index(context.Background())
	if err == nil || strings.Contains(err.Error(), "proxy-pass") {
		t.Fatalf("proxy without credentials: %v", err)
	}
	repo.Client.Proxy = "ftp://proxy"
	if _, err := repo.Index(context.Background()); !errors.Is(err, source.ErrInvalid) {
		t.Fatalf("ftp proxy: %v", err)
	}
}

func TestIndexCache(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cache := helm.NewIndexCache(helm.CacheOptions{TTL: time.Minute, MaxEntries: 2, Now: func() time.Time { return now }})
	srv := helmtest.New(t)
	addCharts(t, srv, "app", "1.0.0")
	count := func() int {
		n := 0
		for _, r := range srv.Requests() {
			if r.Path == "/index.yaml" {
				n++
			}
		}
		return n
	}
	repo := srv.Repository()
	repo.Cache = cache
	for i := 0; i < 3; i++ {
		if _, err := repo.Index(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if count() != 1 {
		t.Fatalf("%d index downloads within the TTL, want 1", count())
	}
	now = now.Add(2 * time.Minute)
	if _, err := repo.Index(context.Background()); err != nil || count() != 2 {
		t.Fatalf("after the TTL: %d downloads, %v", count(), err)
	}
	// Credentials are part of the key.
	other := &helm.Repository{URL: srv.URL, Cache: cache, Client: helm.Client{Auth: &helm.BasicAuth{Username: "u", Password: "p"}}}
	if _, err := other.Index(context.Background()); err != nil || count() != 3 {
		t.Fatalf("other credentials: %d downloads, %v", count(), err)
	}
	third := &helm.Repository{URL: srv.URL + "/", Cache: cache, Client: helm.Client{Auth: &helm.BasicAuth{Username: "v", Password: "p"}}}
	if _, err := third.Index(context.Background()); err != nil {
		t.Fatal(err)
	}
	if cache.Len() != 2 {
		t.Errorf("cache holds %d, bound 2", cache.Len())
	}
	cache.Invalidate(srv.URL)
	if cache.Len() != 0 {
		t.Errorf("after Invalidate: %d", cache.Len())
	}
	// Fetch refreshes the cache.
	if _, err := repo.Fetch(context.Background(), t.TempDir(), ""); err != nil {
		t.Fatal(err)
	}
	before := count()
	if _, err := repo.Index(context.Background()); err != nil || count() != before {
		t.Fatalf("Index after Fetch downloaded again: %v", err)
	}
}

func TestRepositoryNotFound(t *testing.T) {
	srv := helmtest.New(t)
	repo := &helm.Repository{URL: srv.URL + "/nothing"}
	if _, err := repo.Fetch(context.Background(), t.TempDir(), ""); !errors.Is(err, source.ErrNotFound) {
		t.Fatalf("missing index: %v", err)
	}
	for _, u := range []string{"oci://r/x", "ftp://h/x", "::", ""} {
		r := &helm.Repository{URL: u}
		if _, err := r.Index(context.Background()); !errors.Is(err, source.ErrInvalid) {
			t.Errorf("%q: %v", u, err)
		}
	}
	// A token in the repository URL's query stays out of errors.
	withToken := &helm.Repository{URL: srv.URL + "/missing?token=s3cr3t-value&sig=0th3r-secret"}
	_, err := withToken.Index(context.Background())
	if !errors.Is(err, source.ErrNotFound) || strings.Contains(err.Error(), "s3cr3t-value") || strings.Contains(err.Error(), "0th3r-secret") {
		t.Fatalf("token in the query: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := srv.Repository().Index(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

// A redirect to another host does not carry the credentials, unless
// PassCredentials.
func TestRedirectCredentials(t *testing.T) {
	charts := helmtest.New(t, helmtest.WithBasicAuth("user", "pass-word"))
	addCharts(t, charts, "app", "1.0.0")
	var sawAuth atomic.Bool
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			sawAuth.Store(true)
		}
		http.Redirect(w, r, charts.URL+r.URL.Path, http.StatusFound)
	}))
	t.Cleanup(front.Close)
	repo := &helm.Repository{URL: front.URL, Client: charts.Client()}
	if _, err := repo.Index(context.Background()); !errors.Is(err, source.ErrAuth) {
		t.Fatalf("redirected without passCredentials: %v", err)
	}
	if !sawAuth.Load() {
		t.Fatal("the repository's own host got no credentials")
	}
	for _, r := range charts.Requests() {
		if r.HasAuth {
			t.Fatalf("credentials followed the redirect: %+v", r)
		}
	}
	repo.Client.PassCredentials = true
	if _, err := repo.Index(context.Background()); err != nil {
		t.Fatalf("with passCredentials: %v", err)
	}
}
