package bucket_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/bucket"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/internal/testcert"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	sourcetest.Main(m, testenv.Options{NoNodes: true}, &env)
}

// startControllers runs the Bucket and Kustomization controllers
// with the storage server in a fresh manager until the test ends, and
// returns the store.
func startControllers(t *testing.T) *artifact.Store {
	t.Helper()
	return sourcetest.Start(t, env, func(_ context.Context, mgr ctrl.Manager, store *artifact.Store) error {
		r := &bucket.Reconciler{Store: store, TempDir: t.TempDir()}
		return r.SetupWithManager(mgr, bucket.Options{MaxConcurrentReconciles: 2, SkipNameValidation: true})
	}, sourcetest.Kustomization(t))
}

var (
	poll  = sourcetest.Poll
	ready = sourcetest.Ready
)

func namespace(t *testing.T, name string) {
	t.Helper()
	sourcetest.Namespace(t, env, name)
}

// kustomizationFor creates a Kustomization applying the root of the
// source kind/name into its namespace.
func kustomizationFor(t *testing.T, ns, kind, name string) *kustomizev1.Kustomization {
	t.Helper()
	return sourcetest.KustomizationFor(t, env, ns, kind, name)
}

const (
	testAccess = "AKIAGITOPSKITTEST"
	testSecret = "gitopskit-secret-Zq7xP2vL9"
	testRegion = "us-east-1"
)

// s3Server is a versitygw gateway (posix backend), which checks the AWS
// Signature Version 4 of every request.
type s3Server struct {
	Endpoint string // host:port, plain HTTP
	admin    *minio.Client
}

// startS3 starts versitygw for the test and stops it at cleanup.
func startS3(t *testing.T) *s3Server { return startS3With(t, nil) }

// startS3TLS starts versitygw serving HTTPS with a certificate for
// 127.0.0.1 issued by a new CA, whose PEM it returns.
func startS3TLS(t *testing.T) (*s3Server, []byte) {
	t.Helper()
	certs := testcert.New(t)
	certFile, keyFile := certs.Files(t)
	return startS3With(t, certs.Transport(t), "--cert", certFile, "--key", keyFile), certs.CA
}

// startS3With starts versitygw with extra global flags; a non-nil
// transport (trusting the server's certificate) means HTTPS.
func startS3With(t *testing.T, tr http.RoundTripper, flags ...string) *s3Server {
	t.Helper()
	bin := testbin.Tool(t, "versitygw")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var logs bytes.Buffer
	args := append([]string{"--access", testAccess, "--secret", testSecret, "--region", testRegion, "--port", addr}, flags...)
	cmd := exec.Command(bin, append(args, "posix", t.TempDir())...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("versitygw output:\n%s", logs.String())
		}
	})
	poll(t, 30*time.Second, "versitygw listening", func(context.Context) (bool, error) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil, nil
	})
	admin, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(testAccess, testSecret, ""), Region: testRegion,
		Secure: tr != nil, Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	return &s3Server{Endpoint: addr, admin: admin}
}

// Put creates the bucket if needed and uploads objects (key → content).
func (s *s3Server) Put(t *testing.T, name string, objects map[string]string) {
	t.Helper()
	ctx := context.Background()
	if ok, err := s.admin.BucketExists(ctx, name); err != nil {
		t.Fatal(err)
	} else if !ok {
		if err := s.admin.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: testRegion}); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range objects {
		if _, err := s.admin.PutObject(ctx, name, k, strings.NewReader(v), int64(len(v)), minio.PutObjectOptions{}); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
}
