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
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/bucket"
	"github.com/gitopskit/gitopskit/examples/fluxscheme"
	"github.com/gitopskit/gitopskit/examples/gitrepository"
	"github.com/gitopskit/gitopskit/examples/kustomization"
	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/internal/testcert"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	scheme, err := fluxscheme.New()
	if err != nil {
		panic(err)
	}
	testenv.Main(m, testenv.Options{FluxCRDs: true, Scheme: scheme, NoNodes: true}, &env)
}

// startControllers runs the Bucket and Kustomization controllers
// with the storage server in a fresh manager until the test ends, and
// returns the store.
func startControllers(t *testing.T) *artifact.Store {
	t.Helper()
	scheme, err := fluxscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	store, err := artifact.NewStore(t.TempDir(), "http://"+ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Add(&gitrepository.StorageServer{Store: store, Listener: ln}); err != nil {
		t.Fatal(err)
	}
	r := &bucket.Reconciler{Store: store, TempDir: t.TempDir()}
	if err := r.SetupWithManager(mgr, bucket.Options{MaxConcurrentReconciles: 2, SkipNameValidation: true}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	kr := &kustomization.Reconciler{TempDir: t.TempDir()}
	if err := kr.SetupWithManager(ctx, mgr, kustomization.Options{MaxConcurrentReconciles: 2, SkipNameValidation: true}); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return store
}

func poll(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func namespace(t *testing.T, name string) {
	t.Helper()
	if err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

// kustomizationFor creates a Kustomization applying the root of the
// source kind/name into its namespace.
func kustomizationFor(t *testing.T, ns, kind, name string) *kustomizev1.Kustomization {
	t.Helper()
	k := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: kustomizev1.KustomizationSpec{
			Interval:        metav1.Duration{Duration: time.Hour},
			Path:            "./",
			Prune:           true,
			TargetNamespace: ns,
			SourceRef:       kustomizev1.CrossNamespaceSourceReference{Kind: kind, Name: name},
		},
	}
	if err := env.Client.Create(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return k
}

func ready(conds []metav1.Condition) bool {
	return apimeta.IsStatusConditionTrue(conds, meta.ReadyCondition)
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
