package artifacttest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gitopskit/gitopskit/artifact"
)

// Server serves an artifact.Store over HTTP on a loopback address.
type Server struct {
	store    *artifact.Store
	srv      *httptest.Server
	requests atomic.Int64
}

// NewServer starts a server backed by a store in a temporary directory; it
// is shut down when the test ends. Options are passed to artifact.NewStore.
func NewServer(tb testing.TB, opts ...artifact.StoreOption) *Server {
	tb.Helper()
	s := &Server{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.store.Handler().ServeHTTP(w, r)
	}))
	tb.Cleanup(s.srv.Close)
	store, err := artifact.NewStore(tb.TempDir(), s.srv.URL, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	s.store = store
	return s
}

// Store returns the store behind the server.
func (s *Server) Store() *artifact.Store { return s.store }

// URL returns the server's base URL.
func (s *Server) URL() string { return s.srv.URL }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Requests returns how many requests the server has answered.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Publish writes files (slash-separated relative path to content) into a
// fresh directory, archives it for the object kind/namespace/name at
// revision and returns the stored artifact, ready to fetch. The file is
// named after the archive's sha256 (`<hex>.tar.gz`), so publishing new
// content never replaces a file a client may be downloading.
func (s *Server) Publish(tb testing.TB, kind, namespace, name, revision string, files map[string]string) artifact.Artifact {
	tb.Helper()
	dir := tb.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return s.PublishDir(tb, kind, namespace, name, revision, dir)
}

// PublishDir archives an existing directory like Publish.
func (s *Server) PublishDir(tb testing.TB, kind, namespace, name, revision, dir string) artifact.Artifact {
	tb.Helper()
	ctx := context.Background()
	var buf bytes.Buffer
	res, err := artifact.Pack(ctx, &buf, dir, artifact.PackOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	file := strings.TrimPrefix(res.Digest, "sha256:") + ".tar.gz"
	a, err := s.store.Copy(ctx, s.store.NewArtifact(kind, namespace, name, revision, file), &buf)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}
