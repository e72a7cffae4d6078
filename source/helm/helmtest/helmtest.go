package helmtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	gcrname "github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/source/helm"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// Request is a request the server received.
type Request struct {
	// Path is the request's path.
	Path string
	// Authorized is true when the request carried the server's basic
	// credentials.
	Authorized bool
	// HasAuth is true when the request carried any Authorization header.
	HasAuth bool
}

// Option configures a Server.
type Option func(*config)

type config struct {
	tls        bool
	user, pass string
	absolute   bool
	clientCA   []byte
}

// WithTLS serves HTTPS with a certificate for 127.0.0.1 (see CA).
func WithTLS() Option { return func(c *config) { c.tls = true } }

// WithBasicAuth requires HTTP basic authentication on every request.
func WithBasicAuth(user, password string) Option {
	return func(c *config) { c.user, c.pass = user, password }
}

// WithClientCA serves HTTPS (as WithTLS) and requires a client
// certificate issued by the CA in caPEM.
func WithClientCA(caPEM []byte) Option {
	return func(c *config) { c.tls, c.clientCA = true, caPEM }
}

// WithAbsoluteURLs writes absolute chart URLs into the index instead of
// the default relative "charts/<name>-<version>.tgz".
func WithAbsoluteURLs() Option { return func(c *config) { c.absolute = true } }

// Server is a running chart repository.
type Server struct {
	// URL is the repository's address, "http(s)://127.0.0.1:<port>".
	URL string

	cfg    config
	server *httptest.Server

	mu       sync.Mutex
	charts   map[string][]byte // file name → archive
	entries  map[string][]map[string]any
	override map[string]string // file name → URL in the index
	rawIndex []byte
	requests []Request
}

// Start starts a server; Close stops it.
func Start(opts ...Option) *Server {
	s := &Server{charts: map[string][]byte{}, entries: map[string][]map[string]any{}, override: map[string]string{}}
	for _, o := range opts {
		o(&s.cfg)
	}
	s.server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.server.Config.ErrorLog = log.New(io.Discard, "", 0)
	if len(s.cfg.clientCA) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(s.cfg.clientCA)
		s.server.TLS = &tls.Config{ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	}
	if s.cfg.tls {
		s.server.StartTLS()
	} else {
		s.server.Start()
	}
	s.URL = s.server.URL
	return s
}

// New starts a server stopped at the end of the test.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := Start(opts...)
	t.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.server.Close() }

// CA returns the PEM certificate of a TLS server, nil for plain HTTP.
func (s *Server) CA() []byte {
	if !s.cfg.tls {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.server.Certificate().Raw})
}

// Client returns a helm.Client set up for the server: its CA trusted and
// its credentials, if any.
func (s *Server) Client() helm.Client {
	var c helm.Client
	if s.cfg.tls {
		c.TLS = &helm.TLS{CA: s.CA()}
	}
	if s.cfg.user != "" || s.cfg.pass != "" {
		c.Auth = &helm.BasicAuth{Username: s.cfg.user, Password: s.cfg.pass}
	}
	return c
}

// Repository returns a helm.Repository for the server, with Client().
func (s *Server) Repository() *helm.Repository {
	return &helm.Repository{URL: s.URL, Client: s.Client()}
}

// AddChart packages a chart from files (paths from the chart's root,
// Chart.yaml among them) and adds it; it returns the archive.
func (s *Server) AddChart(files map[string]string) ([]byte, error) {
	data, err := Package(files)
	if err != nil {
		return nil, err
	}
	return data, s.AddArchive(data)
}

// AddArchive adds a packaged chart, served at
// charts/<name>-<version>.tgz and listed in the index with its digest.
func (s *Server) AddArchive(data []byte) error {
	meta, err := archiveMetadata(data)
	if err != nil {
		return err
	}
	name, _ := meta["name"].(string)
	version, _ := meta["version"].(string)
	if name == "" || version == "" {
		return errors.New("helmtest: Chart.yaml has no name or version")
	}
	file := helm.ChartFileName(name, version)
	sum := sha256.Sum256(data)
	entry := map[string]any{"created": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339), "digest": hex.EncodeToString(sum[:])}
	for k, v := range meta {
		if k != "dependencies" {
			entry[k] = v
		}
	}
	if meta["apiVersion"] == nil {
		entry["apiVersion"] = "v1"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.charts[file] = data
	s.entries[name] = append(s.entries[name], entry)
	return nil
}

// SetChartURL makes the index point the chart version's download at u
// (another server, a relative path); the chart is still served at
// charts/<name>-<version>.tgz.
func (s *Server) SetChartURL(name, version, u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.override[helm.ChartFileName(name, version)] = u
}

// SetIndex serves data as index.yaml as it is, in place of the generated
// index (hostile or hand-written indexes); nil restores the generated one.
func (s *Server) SetIndex(data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rawIndex = data
}

// SetChartData replaces the bytes served for a chart version without
// changing its index entry (a digest mismatch).
func (s *Server) SetChartData(name, version string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.charts[helm.ChartFileName(name, version)] = data
}

// Index returns the generated index.yaml.
func (s *Server) Index() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.index()
}

func (s *Server) index() []byte {
	if s.rawIndex != nil {
		return s.rawIndex
	}
	entries := map[string][]map[string]any{}
	for name, vs := range s.entries {
		out := make([]map[string]any, 0, len(vs))
		for _, e := range vs {
			c := map[string]any{}
			for k, v := range e {
				c[k] = v
			}
			file := helm.ChartFileName(name, fmt.Sprint(e["version"]))
			u := "charts/" + file
			if s.cfg.absolute {
				u = s.URL + "/" + u
			}
			if o, ok := s.override[file]; ok {
				u = o
			}
			c["urls"] = []string{u}
			out = append(out, c)
		}
		entries[name] = out
	}
	data, _ := sigsyaml.Marshal(map[string]any{"apiVersion": "v1", "entries": entries, "generated": "2026-01-01T00:00:00Z"})
	return data
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	authorized := ok && subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.user)) == 1 && subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.pass)) == 1
	s.mu.Lock()
	s.requests = append(s.requests, Request{Path: r.URL.Path, Authorized: authorized, HasAuth: r.Header.Get("Authorization") != ""})
	s.mu.Unlock()
	if (s.cfg.user != "" || s.cfg.pass != "") && !authorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="helmtest"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case p == "index.yaml":
		w.Header().Set("Content-Type", "application/x-yaml")
		_, _ = w.Write(s.index())
	case strings.HasPrefix(p, "charts/"):
		data, ok := s.charts[strings.TrimPrefix(p, "charts/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/gzip")
		_, _ = w.Write(data)
	default:
		http.NotFound(w, r)
	}
}

// Package packs files (paths from the chart's root, Chart.yaml among
// them) into a packaged chart under "<name>/", entries sorted.
func Package(files map[string]string) ([]byte, error) {
	raw, ok := files["Chart.yaml"]
	if !ok {
		return nil, errors.New("helmtest: no Chart.yaml")
	}
	var meta struct {
		Name string `json:"name"`
	}
	if err := sigsyaml.Unmarshal([]byte(raw), &meta); err != nil || meta.Name == "" {
		return nil, fmt.Errorf("helmtest: Chart.yaml has no name: %v", err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, n := range names {
		h := &tar.Header{Name: meta.Name + "/" + n, Mode: 0o644, Size: int64(len(files[n])), ModTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, files[n]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// archiveMetadata reads Chart.yaml from a packaged chart.
func archiveMetadata(data []byte) (map[string]any, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("helmtest: not a packaged chart: %w", err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("helmtest: no Chart.yaml in the archive: %w", err)
		}
		parts := strings.Split(h.Name, "/")
		if len(parts) == 2 && parts[1] == "Chart.yaml" {
			b, err := io.ReadAll(io.LimitReader(tr, 1<<20))
			if err != nil {
				return nil, err
			}
			var m map[string]any
			if err := sigsyaml.Unmarshal(b, &m); err != nil {
				return nil, fmt.Errorf("helmtest: Chart.yaml: %w", err)
			}
			return m, nil
		}
	}
}

// HelmConfigMediaType is the config media type of a chart Helm pushes to
// a registry; the config holds the chart's metadata as JSON.
const HelmConfigMediaType = "application/vnd.cncf.helm.config.v1+json"

// PushOCI pushes a packaged chart to repo of reg (the chart is then at
// reg.URL(repo)) as helm push does: an OCI image manifest whose config,
// of HelmConfigMediaType, is the chart's metadata and whose one layer,
// of oci.HelmChartLayerMediaType, is the chart; tagged with the chart's
// version ("+" written "_"). It returns the manifest digest. The helm CLI
// pulls what it pushes.
func PushOCI(ctx context.Context, reg *ocitest.Registry, repo string, chart []byte) (string, error) {
	meta, err := archiveMetadata(chart)
	if err != nil {
		return "", err
	}
	version, _ := meta["version"].(string)
	name, _ := meta["name"].(string)
	if version == "" || name == "" {
		return "", errors.New("helmtest: Chart.yaml has no name or version")
	}
	cfg, err := json.Marshal(meta)
	if err != nil {
		return "", err
	}
	client := reg.Client()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if client.TLS != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(client.TLS.CA)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	defer tr.CloseIdleConnections()
	opts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(tr)}
	if client.Auth != nil {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: client.Auth.Username, Password: client.Auth.Password}))
	}
	var nameOpts []gcrname.Option
	if client.Insecure {
		nameOpts = append(nameOpts, gcrname.Insecure)
	}
	ref, err := gcrname.NewRepository(reg.Host+"/"+repo, nameOpts...)
	if err != nil {
		return "", err
	}
	var descs []v1.Descriptor
	for _, blob := range []struct {
		data []byte
		mt   types.MediaType
	}{{cfg, HelmConfigMediaType}, {chart, oci.HelmChartLayerMediaType}} {
		l := static.NewLayer(blob.data, blob.mt)
		if err := remote.WriteLayer(ref, l, opts...); err != nil {
			return "", err
		}
		d, _ := l.Digest()
		descs = append(descs, v1.Descriptor{MediaType: blob.mt, Size: int64(len(blob.data)), Digest: d})
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: descs[0], Layers: descs[1:],
		Annotations: map[string]string{"org.opencontainers.image.title": name, "org.opencontainers.image.version": version}}
	raw, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	if err := remote.Put(ref.Tag(strings.ReplaceAll(version, "+", "_")), rawManifest(raw), opts...); err != nil {
		return "", err
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// rawManifest is an OCI image manifest as bytes.
type rawManifest []byte

func (m rawManifest) RawManifest() ([]byte, error)        { return m, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
