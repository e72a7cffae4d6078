package gcs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/internal/testcert"
)

// emulator is a fake-gcs-server (memory backend) started for one test.
// It checks no credentials: tests that need them put a front in its way.
type emulator struct {
	// URL is scheme://127.0.0.1:port.
	URL   string
	admin *storage.Client
}

// startEmulator starts fake-gcs-server over plain HTTP and stops it at
// cleanup.
func startEmulator(tb testing.TB) *emulator { return startEmulatorWith(tb, nil) }

// startEmulatorTLS starts fake-gcs-server over HTTPS with a certificate
// for 127.0.0.1 issued by a new CA, whose PEM it returns.
func startEmulatorTLS(tb testing.TB) (*emulator, []byte) {
	tb.Helper()
	certs := testcert.New(tb)
	return startEmulatorWith(tb, &certs), certs.CA
}

func startEmulatorWith(tb testing.TB, certs *testcert.Server) *emulator {
	tb.Helper()
	bin := testbin.Tool(tb, "fake-gcs-server")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	scheme := "http"
	client := &http.Client{Transport: &http.Transport{}}
	args := []string{"-host", "127.0.0.1", "-port", port, "-backend", "memory",
		"-data", filepath.Join(tb.TempDir(), "none"), "-public-host", addr, "-log-level", "warn"}
	if certs != nil {
		scheme = "https"
		certFile, keyFile := certs.Files(tb)
		args = append(args, "-cert-location", certFile, "-private-key-location", keyFile)
		client.Transport = certs.Transport(tb)
	}
	url := scheme + "://" + addr
	args = append(args, "-scheme", scheme, "-external-url", url)
	var logs bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if tb.Failed() {
			tb.Logf("fake-gcs-server output:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(url + "/_internal/healthcheck")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("fake-gcs-server did not answer on %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	admin, err := storage.NewClient(context.Background(), option.WithEndpoint(url+"/storage/v1/"),
		option.WithoutAuthentication(), option.WithHTTPClient(client), storage.WithJSONReads())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { admin.Close() })
	return &emulator{URL: url, admin: admin}
}

// MakeBucket creates a bucket with the given objects (key → content).
func (e *emulator) MakeBucket(tb testing.TB, name string, objects map[string]string) {
	tb.Helper()
	if err := e.admin.Bucket(name).Create(context.Background(), "gitopskit-test", nil); err != nil {
		tb.Fatal(err)
	}
	e.Put(tb, name, objects)
}

// Put uploads objects, up to 8 at a time.
func (e *emulator) Put(tb testing.TB, name string, objects map[string]string) {
	tb.Helper()
	if err := e.put(name, objects); err != nil {
		tb.Fatal(err)
	}
}

func (e *emulator) put(name string, objects map[string]string) error {
	var (
		wg    sync.WaitGroup
		sem   = make(chan struct{}, 8)
		mu    sync.Mutex
		first error
	)
	for k, v := range objects {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			w := e.admin.Bucket(name).Object(k).NewWriter(context.Background())
			w.ChunkSize = 0 // one request
			_, err := io.WriteString(w, v)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				mu.Lock()
				first = fmt.Errorf("put %s: %w", k, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// Delete removes an object.
func (e *emulator) Delete(tb testing.TB, name, key string) {
	tb.Helper()
	if err := e.admin.Bucket(name).Object(key).Delete(context.Background()); err != nil {
		tb.Fatal(err)
	}
}

// Index returns the key → ETag index of a bucket as the emulator reports
// each object's attributes one by one.
func (e *emulator) Index(tb testing.TB, name string, keys ...string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for _, k := range keys {
		a, err := e.admin.Bucket(name).Object(k).Attrs(context.Background())
		if errors.Is(err, storage.ErrObjectNotExist) {
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		out[k] = a.Etag
	}
	return out
}

// recordingProxy is a forward HTTP proxy that records the requests it
// relays: method, path, query and Authorization header.
type recordingProxy struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []relayed
}

type relayed struct {
	Method, Path, Query, Auth string
}

func newRecordingProxy(tb testing.TB) *recordingProxy {
	p := &recordingProxy{}
	tr := &http.Transport{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.reqs = append(p.reqs, relayed{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization")})
		p.mu.Unlock()
		out := r.Clone(r.Context())
		out.RequestURI = ""
		resp, err := tr.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	tb.Cleanup(p.Close)
	tb.Cleanup(tr.CloseIdleConnections)
	return p
}

// Take returns the requests relayed since the last call.
func (p *recordingProxy) Take() []relayed {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.reqs
	p.reqs = nil
	return out
}

// listings counts object listings among reqs.
func listings(reqs []relayed) int {
	n := 0
	for _, r := range reqs {
		if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/o") {
			n++
		}
	}
	return n
}

// downloads counts object content downloads among reqs.
func downloads(reqs []relayed) int {
	n := 0
	for _, r := range reqs {
		if r.Method == http.MethodGet && strings.Contains(r.Query, "alt=media") {
			n++
		}
	}
	return n
}

// freeAddr returns a local address nothing listens on.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
