package clustertest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/reconcile"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Options{FluxCRDs: true}, &env)
}

// writeCounter counts API requests that change state (dry-runs excluded).
type writeCounter struct {
	rt       http.RoundTripper
	writes   atomic.Int64
	requests atomic.Int64
}

func (w *writeCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	w.requests.Add(1)
	if r.Method != http.MethodGet && !strings.Contains(r.URL.RawQuery, "dryRun") {
		w.writes.Add(1)
	}
	return w.rt.RoundTrip(r)
}

// newClient returns a client for cfg (env.Config when nil) and its write counter.
func newClient(t *testing.T, cfg *rest.Config) (client.Client, *writeCounter) {
	t.Helper()
	if cfg == nil {
		cfg = env.Config
	}
	cfg = rest.CopyConfig(cfg)
	wc := &writeCounter{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { wc.rt = rt; return wc })
	c, err := reconcile.NewClient(cfg, client.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c, wc
}

func newManager(t *testing.T, c client.Client, opts reconcile.Options) *reconcile.Manager {
	t.Helper()
	if c == nil {
		c, _ = newClient(t, nil)
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 300 * time.Millisecond
	}
	m, err := reconcile.NewManager(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// objects parses a multi-document YAML, replacing NS with ns.
func objects(t *testing.T, ns, docs string) []*unstructured.Unstructured {
	t.Helper()
	docs = strings.ReplaceAll(docs, "NS", ns)
	var out []*unstructured.Unstructured
	for _, d := range strings.Split(docs, "\n---\n") {
		if strings.TrimSpace(d) == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(d), &u.Object); err != nil {
			t.Fatalf("parsing %q: %v", d, err)
		}
		out = append(out, u)
	}
	return out
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func get(t *testing.T, r reconcile.ObjectRef) (*unstructured.Unstructured, bool) {
	t.Helper()
	u := r.Unstructured()
	err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(u), u)
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("get %s: %v", r, err)
	}
	return u, true
}

func cm(ns, name string) reconcile.ObjectRef {
	return reconcile.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: name}
}

func actions(cs reconcile.ChangeSet) map[string]reconcile.Action {
	m := map[string]reconcile.Action{}
	for _, e := range cs.Entries {
		m[e.Ref.String()] = e.Action
	}
	return m
}

var nsCounter atomic.Int64

func uniqueNS(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, nsCounter.Add(1))
}
