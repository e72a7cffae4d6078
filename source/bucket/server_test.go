package bucket_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/internal/testcert"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

const (
	testAccess = "AKIAGITOPSKITTEST"
	testSecret = "gitopskit-secret-Zq7xP2vL9"
	testRegion = "us-east-1"
)

// s3Server is a versitygw gateway (posix backend) serving a temporary
// directory; it checks the AWS Signature Version 4 of every request.
type s3Server struct {
	Endpoint string // host:port, plain HTTP
	admin    *minio.Client
}

// startS3 starts versitygw for the test and stops it at cleanup.
func startS3(tb testing.TB) *s3Server { return startS3With(tb, nil) }

// startS3TLS starts versitygw serving HTTPS with a certificate for
// 127.0.0.1 issued by a new CA, whose PEM it returns.
func startS3TLS(tb testing.TB) (*s3Server, []byte) {
	tb.Helper()
	certs := testcert.New(tb)
	certFile, keyFile := certs.Files(tb)
	return startS3With(tb, certs.Transport(tb), "--cert", certFile, "--key", keyFile), certs.CA
}

// startS3With starts versitygw with extra global flags; a non-nil
// transport (trusting the server's certificate) means HTTPS.
func startS3With(tb testing.TB, tr http.RoundTripper, flags ...string) *s3Server {
	tb.Helper()
	bin := testbin.Tool(tb, "versitygw")
	root := tb.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var logs bytes.Buffer
	args := append([]string{"--access", testAccess, "--secret", testSecret, "--region", testRegion,
		"--port", addr}, flags...)
	cmd := exec.Command(bin, append(args, "posix", root)...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if tb.Failed() {
			tb.Logf("versitygw output:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("versitygw did not listen on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	admin, err := minio.New(addr, &minio.Options{
		Creds:     credentials.NewStaticV4(testAccess, testSecret, ""),
		Region:    testRegion,
		Secure:    tr != nil,
		Transport: tr,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &s3Server{Endpoint: addr, admin: admin}
}

// MakeBucket creates a bucket with the given objects (key → content).
func (s *s3Server) MakeBucket(tb testing.TB, name string, objects map[string]string) {
	tb.Helper()
	ctx := context.Background()
	if err := s.admin.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: testRegion}); err != nil {
		tb.Fatal(err)
	}
	s.Put(tb, name, objects)
}

// Put uploads objects, up to 16 at a time.
func (s *s3Server) Put(tb testing.TB, name string, objects map[string]string) {
	tb.Helper()
	ctx := context.Background()
	var (
		wg    sync.WaitGroup
		sem   = make(chan struct{}, 16)
		mu    sync.Mutex
		first error
	)
	for k, v := range objects {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, err := s.admin.PutObject(ctx, name, k, strings.NewReader(v), int64(len(v)), minio.PutObjectOptions{})
			if err != nil {
				mu.Lock()
				first = fmt.Errorf("put %s: %w", k, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		tb.Fatal(first)
	}
}

// Delete removes an object.
func (s *s3Server) Delete(tb testing.TB, name, key string) {
	tb.Helper()
	if err := s.admin.RemoveObject(context.Background(), name, key, minio.RemoveObjectOptions{}); err != nil {
		tb.Fatal(err)
	}
}

// countingProxy is a forward HTTP proxy that counts the requests it
// relays by method.
type countingProxy struct {
	*httptest.Server
	mu     sync.Mutex
	counts map[string]int
	paths  []string
}

func newCountingProxy(tb testing.TB) *countingProxy { return newDelayingProxy(tb, 0) }

// newDelayingProxy is a countingProxy that holds every request for delay
// before relaying it, as a distant server would.
func newDelayingProxy(tb testing.TB, delay time.Duration) *countingProxy {
	p := &countingProxy{counts: map[string]int{}}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.counts[r.Method]++
		p.paths = append(p.paths, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		p.mu.Unlock()
		time.Sleep(delay)
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
		bufCopy(w, resp.Body)
	}))
	tb.Cleanup(p.Close)
	tb.Cleanup(tr.CloseIdleConnections)
	return p
}

// Count returns how many requests of method were relayed, and resets it.
func (p *countingProxy) Count(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.counts[method]
	p.counts = map[string]int{}
	p.paths = nil
	return n
}

func bufCopy(w http.ResponseWriter, r interface{ Read([]byte) (int, error) }) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			w.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}
