package gittest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is one HTTP request an HTTPServer received.
type Request struct {
	Method string
	// Path is the URL path, for example "/repo/info/refs".
	Path string
	// Query is the raw query, for example "service=git-upload-pack".
	Query string
	// Status is the HTTP status the server answered with.
	Status int
}

// HTTPServer serves the repositories under Root over Git's smart HTTP
// protocol with the real `git http-backend`.
type HTTPServer struct {
	// URL is the base URL, for example "http://127.0.0.1:41234".
	URL string
	// Root is the directory whose repositories are served: a repository at
	// Root/name is at URL/name.
	Root string
	// CACert is the PEM certificate clients must trust when TLS is on.
	CACert []byte
	// ClientCert and ClientKey are a PEM certificate and key the server
	// accepts when client certificates are required.
	ClientCert, ClientKey []byte

	mu       sync.Mutex
	requests []Request
	close    func()
}

// HTTPOption configures NewHTTPServer.
type HTTPOption func(*httpConfig)

type httpConfig struct {
	user, password string
	token          string
	tls            bool
	clientCerts    bool
}

// WithBasicAuth requires HTTP basic authentication with user and password.
func WithBasicAuth(user, password string) HTTPOption {
	return func(c *httpConfig) { c.user, c.password = user, password }
}

// WithBearerToken requires an "Authorization: Bearer <token>" header.
func WithBearerToken(token string) HTTPOption {
	return func(c *httpConfig) { c.token = token }
}

// WithTLS serves HTTPS with a self-signed certificate (see CACert).
func WithTLS() HTTPOption { return func(c *httpConfig) { c.tls = true } }

// WithClientCerts serves HTTPS and requires a client certificate signed by
// the server's own client CA (see ClientCert and ClientKey).
func WithClientCerts() HTTPOption {
	return func(c *httpConfig) { c.tls, c.clientCerts = true, true }
}

// NewHTTPServer starts a smart HTTP Git server on a loopback port, serving
// a fresh temporary root, and stops it when the test ends.
func NewHTTPServer(t testing.TB, opts ...HTTPOption) *HTTPServer {
	t.Helper()
	s, err := StartHTTPServer(t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// StartHTTPServer is NewHTTPServer outside tests: it serves root until
// Close is called.
func StartHTTPServer(root string, opts ...HTTPOption) (*HTTPServer, error) {
	var cfg httpConfig
	for _, o := range opts {
		o(&cfg)
	}
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return nil, fmt.Errorf("gittest: git --exec-path: %w", err)
	}
	s := &HTTPServer{Root: root}
	backend := &cgi.Handler{
		Path:   filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		Root:   "/",
		Stderr: io.Discard, // refusals reach the client as HTTP statuses
		Env: []string{
			"GIT_PROJECT_ROOT=" + s.Root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL=/dev/null",
			"REMOTE_USER=gittest",
		},
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			s.mu.Lock()
			s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: rec.status})
			s.mu.Unlock()
		}()
		if !cfg.authorized(r) {
			rec.Header().Set("WWW-Authenticate", `Basic realm="gittest"`)
			http.Error(rec, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(rec, r)
	})
	srv := httptest.NewUnstartedServer(handler)
	if cfg.clientCerts {
		pool, certPEM, keyPEM, err := newClientCA()
		if err != nil {
			return nil, err
		}
		srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
		s.ClientCert, s.ClientKey = certPEM, keyPEM
	}
	if cfg.tls {
		srv.StartTLS()
		s.CACert = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	} else {
		srv.Start()
	}
	s.close = srv.Close
	s.URL = srv.URL
	return s, nil
}

// Close stops the server.
func (s *HTTPServer) Close() {
	if s.close != nil {
		s.close()
	}
}

func (c *httpConfig) authorized(r *http.Request) bool {
	if c.user == "" && c.token == "" {
		return true
	}
	if c.user != "" {
		if u, p, ok := r.BasicAuth(); ok &&
			subtle.ConstantTimeCompare([]byte(u), []byte(c.user)) == 1 &&
			subtle.ConstantTimeCompare([]byte(p), []byte(c.password)) == 1 {
			return true
		}
	}
	if c.token != "" {
		if h := r.Header.Get("Authorization"); subtle.ConstantTimeCompare([]byte(h), []byte("Bearer "+c.token)) == 1 {
			return true
		}
	}
	return false
}

// NewRepo creates an empty repository served at URL/name.
func (s *HTTPServer) NewRepo(t testing.TB, name string) *Repo {
	t.Helper()
	r := NewRepo(t, filepath.Join(s.Root, filepath.FromSlash(name)))
	r.URL = s.URL + "/" + name
	return r
}

// InitWorktree is NewRepo outside tests: it creates an empty repository
// served at URL/name.
func (s *HTTPServer) InitWorktree(name string) (*Worktree, error) {
	w, err := InitWorktree(filepath.Join(s.Root, filepath.FromSlash(name)))
	if err != nil {
		return nil, err
	}
	w.URL = s.URL + "/" + name
	return w, nil
}

// Requests returns a copy of the requests served so far.
func (s *HTTPServer) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// UploadPacks counts the git-upload-pack POSTs served so far. With Git
// protocol v0/v1 (go-git, or git -c protocol.version=1) these are the
// requests that transfer objects, and an ls-remote makes none; protocol v2
// clients also POST their ls-refs command.
func (s *HTTPServer) UploadPacks() int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/git-upload-pack") {
			n++
		}
	}
	return n
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// newClientCA makes a CA, returns a pool with it and a client certificate
// and key (PEM) it signed.
func newClientCA() (*x509.CertPool, []byte, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gittest client CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "gittest client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool,
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}
