package kustomization_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gitopskit/gitopskit/examples/controllers"
	"github.com/gitopskit/gitopskit/examples/fluxscheme"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/source/git/gittest"
)

var (
	env         *testenv.Env
	metricsAddr string
	// dryRuns counts the controllers' server-side dry-run requests.
	dryRuns = &dryRunCounter{}
)

// dryRunCounter counts dry-run requests per namespace of the request path.
type dryRunCounter struct {
	rt   http.RoundTripper
	mu   sync.Mutex
	byNS map[string]int
}

func (c *dryRunCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.RawQuery, "dryRun") {
		if _, rest, ok := strings.Cut(r.URL.Path, "/namespaces/"); ok {
			ns, _, _ := strings.Cut(rest, "/")
			c.mu.Lock()
			if c.byNS == nil {
				c.byNS = map[string]int{}
			}
			c.byNS[ns]++
			c.mu.Unlock()
		}
	}
	return c.rt.RoundTrip(r)
}

func (c *dryRunCounter) count(ns string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byNS[ns]
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	scheme, err := fluxscheme.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env, err = testenv.Start(ctx, testenv.Options{FluxCRDs: true, Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop()
	storeDir, err := os.MkdirTemp("", "kustomization-test-store-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(storeDir)
	logf.SetLogger(logr.Discard())
	logger := logr.Discard()
	if path := os.Getenv("GITOPSKIT_TEST_LOG"); path != "" {
		lf, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer lf.Close()
		logger = funcr.New(func(prefix, args string) { fmt.Fprintln(lf, prefix, args) }, funcr.Options{Verbosity: 1})
	}
	// A fixed free port for the metrics endpoint, so a test can scrape it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	metricsAddr = ln.Addr().String()
	ln.Close()
	rc := rest.CopyConfig(env.Config)
	rc.Wrap(func(rt http.RoundTripper) http.RoundTripper { dryRuns.rt = rt; return dryRuns })
	running, err := controllers.Start(ctx, controllers.Config{
		Logger:                    logger,
		MetricsAddr:               metricsAddr,
		LeaderElection:            true,
		LeaderElectionNamespace:   "kube-system",
		REST:                      rc,
		StoreDir:                  storeDir,
		KustomizationConcurrency:  4,
		DependencyRequeueInterval: 2 * time.Second,
		HealthPollInterval:        500 * time.Millisecond,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if err := running.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "controllers:", err)
		code = 1
	}
	return code
}

// fleet is one test's namespace, Git repository and GitRepository object.
type fleet struct {
	t    *testing.T
	ns   string
	repo *gittest.Repo
}

// newFleet creates the namespace and a GitRepository named "fleet" polling
// a fresh repository every second, and waits for its first artifact.
func newFleet(t *testing.T, ns string, files map[string]string) *fleet {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	srv := gittest.NewHTTPServer(t)
	repo := srv.NewRepo(t, "fleet")
	f := &fleet{t: t, ns: ns, repo: repo}
	head := repo.Commit("initial", files)
	gr := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: ns},
		Spec: sourcev1.GitRepositorySpec{
			URL:       repo.URL,
			Interval:  metav1.Duration{Duration: time.Second},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
		},
	}
	if err := env.Client.Create(ctx, gr); err != nil {
		t.Fatal(err)
	}
	f.waitSource("main@sha1:" + head)
	return f
}

// commit commits files (and removals) and waits until the GitRepository
// serves the new revision, which it returns.
func (f *fleet) commit(msg string, files map[string]string, remove ...string) string {
	f.t.Helper()
	for _, p := range remove {
		f.repo.Git("rm", "-q", p)
	}
	rev := "main@sha1:" + f.repo.Commit(msg, files)
	f.waitSource(rev)
	return rev
}

func (f *fleet) waitSource(rev string) {
	f.t.Helper()
	poll(f.t, 60*time.Second, "GitRepository revision "+rev, func(ctx context.Context) (bool, error) {
		var gr sourcev1.GitRepository
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "fleet"}, &gr); err != nil {
			return false, err
		}
		return gr.Status.Artifact != nil && gr.Status.Artifact.Revision == rev, nil
	})
}

// kustomization creates a Kustomization of the fleet source.
func (f *fleet) kustomization(name, path string, mutate func(*kustomizev1.Kustomization)) *kustomizev1.Kustomization {
	f.t.Helper()
	k := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
		Spec: kustomizev1.KustomizationSpec{
			Interval:        metav1.Duration{Duration: time.Hour},
			Path:            path,
			Prune:           true,
			TargetNamespace: f.ns,
			SourceRef:       kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"},
		},
	}
	if mutate != nil {
		mutate(k)
	}
	if err := env.Client.Create(context.Background(), k); err != nil {
		f.t.Fatal(err)
	}
	return k
}

func (f *fleet) get(name string) *kustomizev1.Kustomization {
	f.t.Helper()
	var k kustomizev1.Kustomization
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: name}, &k); err != nil {
		f.t.Fatal(err)
	}
	return &k
}

// waitApplied waits until the Kustomization is Ready at revision rev.
func (f *fleet) waitApplied(name, rev string) *kustomizev1.Kustomization {
	f.t.Helper()
	var k kustomizev1.Kustomization
	poll(f.t, 60*time.Second, "Kustomization "+name+" applied "+rev, func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: name}, &k); err != nil {
			return false, err
		}
		return k.Status.LastAppliedRevision == rev && k.Status.ObservedGeneration == k.Generation &&
			apimeta.IsStatusConditionTrue(k.Status.Conditions, meta.ReadyCondition), nil
	})
	return &k
}

// waitCondition waits for the Ready condition to have status and reason.
func (f *fleet) waitReady(name string, status metav1.ConditionStatus, reason string) *metav1.Condition {
	f.t.Helper()
	var c *metav1.Condition
	poll(f.t, 60*time.Second, fmt.Sprintf("Kustomization %s Ready=%s/%s", name, status, reason), func(ctx context.Context) (bool, error) {
		var k kustomizev1.Kustomization
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: name}, &k); err != nil {
			return false, err
		}
		c = apimeta.FindStatusCondition(k.Status.Conditions, meta.ReadyCondition)
		return c != nil && c.Status == status && c.Reason == reason, nil
	})
	return c
}

func poll(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func configMap(name, data string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n%s", name, indent(data))
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}
