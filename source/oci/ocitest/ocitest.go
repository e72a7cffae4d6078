package ocitest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/subtle"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Request is one HTTP request the registry served.
type Request struct {
	// Method is the HTTP method, for example "HEAD".
	Method string
	// Path is the URL path, for example "/v2/app/manifests/latest".
	Path string
}

// IsBlob reports whether the request reads or writes a blob.
func (r Request) IsBlob() bool { return strings.Contains(r.Path, "/blobs/") }

// IsManifest reports whether the request is about a manifest.
func (r Request) IsManifest() bool { return strings.Contains(r.Path, "/manifests/") }

// Option configures a Registry.
type Option func(*config)

type config struct {
	tls         bool
	noReferrers bool
	user, pass  string
	middleware  []func(http.Handler) http.Handler
}

// WithTLS serves HTTPS with a self-signed certificate for 127.0.0.1; CA
// returns it and Client trusts it.
func WithTLS() Option { return func(c *config) { c.tls = true } }

// WithoutReferrersAPI serves no OCI 1.1 referrers API, as older
// registries: clients then list a manifest's referrers through the
// "sha256-<hex>" referrers tag, which PushReferrer keeps up to date.
func WithoutReferrersAPI() Option { return func(c *config) { c.noReferrers = true } }

// WithBasicAuth requires HTTP basic credentials on every request.
func WithBasicAuth(user, password string) Option {
	return func(c *config) { c.user, c.pass = user, password }
}

// WithMiddleware wraps the registry's handler (outside basic auth and the
// request log), for example to inject faults.
func WithMiddleware(m func(http.Handler) http.Handler) Option {
	return func(c *config) { c.middleware = append(c.middleware, m) }
}

// Registry is a running in-process registry.
type Registry struct {
	// Host is the registry's "127.0.0.1:<port>".
	Host string

	cfg    config
	server *httptest.Server
	blobs  *blobStore

	mu       sync.Mutex
	requests []Request
}

// Start starts a registry; Close stops it.
func Start(opts ...Option) *Registry {
	r := &Registry{blobs: &blobStore{m: map[string][]byte{}}}
	for _, o := range opts {
		o(&r.cfg)
	}
	var h http.Handler = registry.New(
		registry.WithReferrersSupport(!r.cfg.noReferrers),
		registry.WithBlobHandler(r.blobs),
		registry.Logger(discardLogger()),
	)
	if r.cfg.user != "" || r.cfg.pass != "" {
		h = r.basicAuth(h)
	}
	h = r.record(h)
	for _, m := range r.cfg.middleware {
		h = m(h)
	}
	r.server = httptest.NewUnstartedServer(h)
	r.server.Config.ErrorLog = discardLogger()
	if r.cfg.tls {
		r.server.StartTLS()
	} else {
		r.server.Start()
	}
	r.Host = r.server.Listener.Addr().String()
	return r
}

// New starts a registry stopped at the end of the test.
func New(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	r := Start(opts...)
	t.Cleanup(r.Close)
	return r
}

// Close stops the registry.
func (r *Registry) Close() { r.server.Close() }

// URL returns the address of a repository of the registry,
// "oci://127.0.0.1:<port>/<repo>".
func (r *Registry) URL(repo string) string { return oci.URLPrefix + r.Host + "/" + repo }

// CA returns the PEM certificate of a TLS registry, nil for plain HTTP.
func (r *Registry) CA() []byte {
	if !r.cfg.tls {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.server.Certificate().Raw})
}

// Client returns an oci.Client set up for the registry: its CA trusted,
// Insecure for plain HTTP, the basic credentials if any.
func (r *Registry) Client() oci.Client {
	c := oci.Client{Insecure: !r.cfg.tls}
	if r.cfg.tls {
		c.TLS = &oci.TLS{CA: r.CA()}
	}
	if r.cfg.user != "" || r.cfg.pass != "" {
		c.Auth = &oci.Auth{Username: r.cfg.user, Password: r.cfg.pass}
	}
	return c
}

// Requests returns the requests served so far, in order.
func (r *Registry) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// ResetRequests forgets the requests served so far.
func (r *Registry) ResetRequests() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = nil
}

// CorruptBlob replaces the stored content of a blob ("sha256:<hex>"),
// keeping its digest, so that a client that verifies digests refuses it.
func (r *Registry) CorruptBlob(digest string, content []byte) error {
	return r.blobs.replace(digest, content)
}

func (r *Registry) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.requests = append(r.requests, Request{Method: req.Method, Path: req.URL.Path})
		r.mu.Unlock()
		next.ServeHTTP(w, req)
	})
}

func (r *Registry) basicAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u, p, ok := req.BasicAuth()
		if ok && subtle.ConstantTimeCompare([]byte(u), []byte(r.cfg.user)) == 1 &&
			subtle.ConstantTimeCompare([]byte(p), []byte(r.cfg.pass)) == 1 {
			next.ServeHTTP(w, req)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="ocitest"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
	})
}

// remoteOptions are go-containerregistry options that reach the registry.
func (r *Registry) remoteOptions(ctx context.Context) []remote.Option {
	opts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(r.server.Client().Transport)}
	if r.cfg.user != "" || r.cfg.pass != "" {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: r.cfg.user, Password: r.cfg.pass}))
	}
	return opts
}

func (r *Registry) tagRef(repo, tag string) (name.Tag, error) {
	opts := []name.Option{name.StrictValidation}
	if !r.cfg.tls {
		opts = append(opts, name.Insecure)
	}
	return name.NewTag(r.Host+"/"+repo+":"+tag, opts...)
}

// PushFiles writes files (slash-separated path → content) to a temporary
// directory and pushes it with oci.Client.Push to repo:tag, as a Flux
// artifact.
func (r *Registry) PushFiles(ctx context.Context, repo, tag string, files map[string]string, opts oci.PushOptions) (oci.PushResult, error) {
	dir, err := os.MkdirTemp("", "ocitest-push-*")
	if err != nil {
		return oci.PushResult{}, err
	}
	defer os.RemoveAll(dir)
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
			return oci.PushResult{}, err
		}
		if err := os.WriteFile(full, []byte(content), 0o640); err != nil {
			return oci.PushResult{}, err
		}
	}
	c := r.Client()
	return c.Push(ctx, r.URL(repo), tag, dir, opts)
}

// Layer is a layer for PushLayers.
type Layer struct {
	// MediaType is the layer's media type.
	MediaType string
	// Data is the blob as stored.
	Data []byte
	// Annotations are the layer descriptor's annotations (a cosign
	// signature layer carries its signature in one).
	Annotations map[string]string
}

// PushLayers pushes an artifact made of the given layers as they are, with
// Flux's config media type and the given manifest annotations, to
// repo:tag, and returns the manifest digest. Use TarGz to build a
// tar+gzip layer.
func (r *Registry) PushLayers(ctx context.Context, repo, tag string, annotations map[string]string, layers ...Layer) (string, error) {
	ref, err := r.tagRef(repo, tag)
	if err != nil {
		return "", err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, oci.ConfigMediaType)
	if len(annotations) > 0 {
		img = mutate.Annotations(img, annotations).(v1.Image)
	}
	for _, l := range layers {
		img, err = mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(l.Data, types.MediaType(l.MediaType)), Annotations: l.Annotations})
		if err != nil {
			return "", err
		}
	}
	if err := remote.Write(ref, img, r.remoteOptions(ctx)...); err != nil {
		return "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// PushReferrer pushes an OCI 1.1 referrer of the manifest subject
// ("sha256:<hex>") of repo, as cosign v3 attaches a signature bundle: a
// manifest with the given artifactType, the empty config
// (application/vnd.oci.empty.v1+json), the layers, the annotations and a
// subject descriptor; it returns the referrer's digest. go-containerregistry
// also records it in the "sha256-<hex>" referrers tag index, so it is
// found with or without the referrers API (see WithoutReferrersAPI).
func (r *Registry) PushReferrer(ctx context.Context, repo, subject, artifactType string, annotations map[string]string, layers ...Layer) (string, error) {
	ref, err := r.tagRef(repo, "referrer")
	if err != nil {
		return "", err
	}
	opts := r.remoteOptions(ctx)
	desc, err := remote.Head(ref.Context().Digest(subject), opts...)
	if err != nil {
		return "", err
	}
	config := static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json")
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: artifactType,
		Subject: &v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}, Annotations: annotations}
	for i, l := range append([]Layer{{MediaType: "application/vnd.oci.empty.v1+json", Data: []byte("{}")}}, layers...) {
		sl := static.NewLayer(l.Data, types.MediaType(l.MediaType))
		if i == 0 {
			sl = config
		}
		if err := remote.WriteLayer(ref.Context(), sl, opts...); err != nil {
			return "", err
		}
		d, _ := sl.Digest()
		ld := v1.Descriptor{MediaType: types.MediaType(l.MediaType), Digest: d, Size: int64(len(l.Data)), Annotations: l.Annotations}
		if i == 0 {
			m.Config = ld
		} else {
			m.Layers = append(m.Layers, ld)
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	d, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return "", err
	}
	if err := remote.Put(ref.Context().Digest(d.String()), rawManifest{raw: raw, mt: types.OCIManifestSchema1}, opts...); err != nil {
		return "", err
	}
	return d.String(), nil
}

// rawManifest is a manifest to put as it is.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// Tag tags an existing manifest digest of repo with tag.
func (r *Registry) Tag(ctx context.Context, repo, digest, tag string) error {
	c := r.Client()
	return c.Tag(ctx, r.URL(repo), digest, tag)
}

// TarGz returns a tar+gzip archive of files (slash-separated path →
// content), entries in lexical order, as a Flux content layer holds.
func TarGz(files map[string]string) []byte {
	var buf bytes.Buffer
	gw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		_ = tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg})
		_, _ = io.WriteString(tw, files[n])
	}
	_ = tw.Close()
	_ = gw.Close()
	return buf.Bytes()
}

// blobStore is an in-memory blob store whose content can be corrupted.
type blobStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (b *blobStore) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.m[h.String()]
	if !ok {
		return 0, registry.ErrNotFound
	}
	return int64(len(d)), nil
}

func (b *blobStore) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.m[h.String()]
	if !ok {
		return nil, registry.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(d)), nil
}

func (b *blobStore) Put(_ context.Context, _ string, h v1.Hash, rc io.ReadCloser) error {
	defer rc.Close()
	d, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[h.String()] = d
	return nil
}

func (b *blobStore) Delete(_ context.Context, _ string, h v1.Hash) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.m[h.String()]; !ok {
		return registry.ErrNotFound
	}
	delete(b.m, h.String())
	return nil
}

func (b *blobStore) replace(digest string, content []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.m[digest]; !ok {
		return fmt.Errorf("ocitest: no blob %s: %w", digest, errors.New("not found"))
	}
	b.m[digest] = append([]byte(nil), content...)
	return nil
}
