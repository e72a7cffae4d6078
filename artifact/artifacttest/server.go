package artifacttest

import (
	"bytes"
	"context"
	"fmt"
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
	s, err := Start(tb.TempDir(), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Start starts a server backed by a store rooted at the existing directory
// root, for use outside tests; call Close when done.
func Start(root string, opts ...artifact.StoreOption) (*Server, error) {
	s := &Server{}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.store.Handler().ServeHTTP(w, r)
	}))
	s.srv.Start()
	store, err := artifact.NewStore(root, s.srv.URL, opts...)
	if err != nil {
		s.srv.Close()
		return nil, err
	}
	s.store = store
	return s, nil
}

// Close shuts the server down; the store's files stay.
func (s *Server) Close() { s.srv.Close() }

// Store returns the store behind the server.
func (s *Server) Store() *artifact.Store { return s.store }

// URL returns the server's base URL.
func (s *Server) URL() string { return s.srv.URL }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Requests returns how many requests the server has answered.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Publish writes files (slash-separated relative path to content) into a
// temporary directory, archives it for the object key at revision and
// returns the stored artifact, ready to fetch. It fails the test on error.
// See PublishFiles.
func (s *Server) Publish(tb testing.TB, key artifact.ObjectKey, revision string, files map[string]string) artifact.Artifact {
	tb.Helper()
	a, err := s.PublishFiles(context.Background(), key, revision, files)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// PublishFiles is Publish returning an error. The file is named after the
// archive's sha256 (`<hex>.tar.gz`), so publishing new content never
// replaces a file a client may be downloading.
func (s *Server) PublishFiles(ctx context.Context, key artifact.ObjectKey, revision string, files map[string]string) (artifact.Artifact, error) {
	dir, err := os.MkdirTemp("", "artifacttest-")
	if err != nil {
		return artifact.Artifact{}, err
	}
	defer os.RemoveAll(dir)
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if rel, err := filepath.Rel(dir, full); err != nil || strings.HasPrefix(rel, "..") {
			return artifact.Artifact{}, fmt.Errorf("artifacttest: file path %q leaves the tree", p)
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return artifact.Artifact{}, err
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			return artifact.Artifact{}, err
		}
	}
	return s.PublishDir(ctx, key, revision, dir)
}

// PublishDir archives an existing directory like PublishFiles.
func (s *Server) PublishDir(ctx context.Context, key artifact.ObjectKey, revision, dir string) (artifact.Artifact, error) {
	var buf bytes.Buffer
	res, err := artifact.Pack(ctx, &buf, dir, artifact.PackOptions{})
	if err != nil {
		return artifact.Artifact{}, err
	}
	file := strings.TrimPrefix(res.Digest, "sha256:") + ".tar.gz"
	return s.store.Put(ctx, s.store.NewArtifact(key, revision, file), &buf)
}
