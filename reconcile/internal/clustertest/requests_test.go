package clustertest

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/reconcile"
)

// pathLog records each request for a namespaced object as "METHOD path"
// (plus " dryRun"); discovery requests are left out.
type pathLog struct {
	rt   http.RoundTripper
	mu   sync.Mutex
	reqs []string
}

func (l *pathLog) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.Contains(r.URL.Path, "/namespaces/") {
		return l.rt.RoundTrip(r)
	}
	s := r.Method + " " + r.URL.Path
	if strings.Contains(r.URL.RawQuery, "dryRun") {
		s += " dryRun"
	}
	l.mu.Lock()
	l.reqs = append(l.reqs, s)
	l.mu.Unlock()
	return l.rt.RoundTrip(r)
}

// take returns the requests recorded since the last take.
func (l *pathLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.reqs
	l.reqs = nil
	slices.Sort(out)
	return out
}

const fewObjects = `
apiVersion: v1
kind: ServiceAccount
metadata: {name: app, namespace: NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: config, namespace: NS}
data: {k: v}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: NS}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: NS}
spec:
  replicas: 0
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: app
      containers: [{name: web, image: nginx:1.27}]
`

// An owner's few objects (one per kind, too few to list) are created with
// a read and one apply each, re-applied unchanged with a read each, and
// the health wait reads only what has a status to wait for: the
// Deployment, without its ReplicaSets and Pods; the ConfigMap,
// ServiceAccount and ClusterIP Service the Manager just applied are
// Current without a read. Objects it did not apply, or deleted since, are
// read as before.
func TestRequestsFewObjectsApplyAndWait(t *testing.T) {
	ns := uniqueNS("requests")
	ctx := ctxT(t, 2*time.Minute)
	nsObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
	if err := env.Client.Create(ctx, nsObj); err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(env.Config)
	log := &pathLog{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { log.rt = rt; return log })
	c, err := reconcile.NewClient(cfg, client.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	owner := reconcile.Owner{Name: "requests", Namespace: "flux-system"}
	m := newManager(t, c, reconcile.Options{Owner: owner, PollInterval: 200 * time.Millisecond})
	log.take()

	cs, err := m.Apply(ctx, objects(t, ns, fewObjects))
	if err != nil || len(cs.Filter(reconcile.Created)) != 4 {
		t.Fatalf("apply: %v %v", cs.Count(), err)
	}
	p := "/api/v1/namespaces/" + ns + "/"
	d := "/apis/apps/v1/namespaces/" + ns + "/deployments/web"
	want := []string{"GET " + p + "configmaps/config", "GET " + p + "serviceaccounts/app", "GET " + p + "services/web", "GET " + d,
		"PATCH " + p + "configmaps/config", "PATCH " + p + "serviceaccounts/app", "PATCH " + p + "services/web", "PATCH " + d}
	slices.Sort(want)
	if got := log.take(); !slices.Equal(got, want) {
		t.Errorf("creating: requests\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	inv := cs.Inventory()
	if err := m.Wait(ctx, inv, reconcile.WaitOptions{Timeout: time.Minute}); err != nil {
		t.Fatalf("wait: %v", err)
	}
	got := log.take()
	if len(got) == 0 {
		t.Error("wait: no request, want the Deployment read")
	}
	for _, r := range got {
		if r != "GET "+d {
			t.Errorf("wait: request %q, want only GET %s", r, d)
		}
	}

	cs, err = m.Apply(ctx, objects(t, ns, fewObjects))
	if err != nil || len(cs.Filter(reconcile.Unchanged)) != 4 {
		t.Fatalf("re-apply: %v %v", cs.Count(), err)
	}
	want = []string{"GET " + p + "configmaps/config", "GET " + p + "serviceaccounts/app", "GET " + p + "services/web", "GET " + d}
	slices.Sort(want)
	if got := log.take(); !slices.Equal(got, want) {
		t.Errorf("re-applying: requests\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Another Manager has applied nothing: it reads every object.
	other := newManager(t, c, reconcile.Options{Owner: owner, PollInterval: 200 * time.Millisecond})
	if err := other.Wait(ctx, inv, reconcile.WaitOptions{Timeout: time.Minute}); err != nil {
		t.Fatalf("other manager's wait: %v", err)
	}
	got = log.take()
	for _, path := range []string{p + "configmaps/config", p + "serviceaccounts/app", p + "services/web", d} {
		if !slices.Contains(got, "GET "+path) {
			t.Errorf("other manager's wait: no GET %s in\n%s", path, strings.Join(got, "\n"))
		}
	}

	// A pruned ConfigMap is no longer taken for Current.
	next := reconcile.NewInventory()
	for _, r := range mustRefs(t, inv) {
		if r.Kind != "ConfigMap" {
			next = next.Union(reconcile.NewInventory(r))
		}
	}
	if _, err := m.Prune(ctx, inv, next); err != nil {
		t.Fatal(err)
	}
	err = m.Wait(ctx, inv, reconcile.WaitOptions{Timeout: 2 * time.Second})
	var he *reconcile.HealthError
	if !errors.As(err, &he) || len(he.Objects) != 1 || he.Objects[0].Ref.Kind != "ConfigMap" {
		t.Errorf("wait after pruning the ConfigMap: %v, want a health error naming only the ConfigMap", err)
	}
}

func mustRefs(t *testing.T, inv reconcile.Inventory) []reconcile.ObjectRef {
	t.Helper()
	refs, err := inv.Refs()
	if err != nil {
		t.Fatal(err)
	}
	return refs
}

// Sync applies the objects of an owner's first reconciliation without
// reading them first: new objects are Created with one request each. An
// object that already existed (here made by kubectl) is still reported
// Configured and handed to the full path, which takes kubectl's field
// ownership over as before.
func TestRequestsSyncCreatesWithoutReading(t *testing.T) {
	ns := uniqueNS("blind")
	ctx := ctxT(t, 2*time.Minute)
	nsObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
	if err := env.Client.Create(ctx, nsObj); err != nil {
		t.Fatal(err)
	}
	existing := cm(ns, "config").Unstructured()
	existing.Object["data"] = map[string]any{"k": "old"}
	if err := env.Client.Create(ctx, existing, client.FieldOwner("kubectl")); err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(env.Config)
	log := &pathLog{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { log.rt = rt; return log })
	c, err := reconcile.NewClient(cfg, client.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	m := newManager(t, c, reconcile.Options{Owner: reconcile.Owner{Name: "blind", Namespace: "flux-system"}})
	log.take()

	res, err := m.Sync(ctx, objects(t, ns, fewObjects), reconcile.Inventory{}, reconcile.SyncOptions{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	p := "/api/v1/namespaces/" + ns + "/"
	want := map[string]reconcile.Action{
		"ServiceAccount/" + ns + "/app": reconcile.Created, "Service/" + ns + "/web": reconcile.Created,
		"Deployment/" + ns + "/web": reconcile.Created, "ConfigMap/" + ns + "/config": reconcile.Configured,
	}
	got := map[string]reconcile.Action{}
	for _, e := range res.ChangeSet.Entries {
		got[e.Ref.Kind+"/"+e.Ref.Namespace+"/"+e.Ref.Name] = e.Action
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	reqs := log.take()
	for _, r := range reqs {
		if strings.HasPrefix(r, "GET ") && !strings.Contains(r, "/configmaps/") {
			t.Errorf("request %q: a new object was read before its apply", r)
		}
	}
	for _, path := range []string{p + "serviceaccounts/app", p + "services/web", "/apis/apps/v1/namespaces/" + ns + "/deployments/web"} {
		if n := countOf(reqs, "PATCH "+path); n != 1 {
			t.Errorf("%d PATCH %s, want 1", n, path)
		}
	}
	live, _ := get(t, cm(ns, "config"))
	if v, _, _ := unstructured.NestedString(live.Object, "data", "k"); v != "v" {
		t.Errorf("ConfigMap data.k = %q, want v", v)
	}
	for _, mf := range live.GetManagedFields() {
		if mf.Manager == "kubectl" {
			t.Errorf("kubectl still manages fields of the adopted ConfigMap: %+v", mf)
		}
	}

	// The next reconciliation knows every object: they are read, unchanged.
	res, err = m.Sync(ctx, objects(t, ns, fewObjects), res.Inventory, reconcile.SyncOptions{Prune: true})
	if err != nil || len(res.ChangeSet.Filter(reconcile.Unchanged)) != 4 {
		t.Fatalf("second sync: %v %v", res.ChangeSet.Count(), err)
	}
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}
