package cluster_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/helmrelease/cluster"
)

// discoveryCounter counts the requests for the server's discovery
// documents (the API group lists every download starts with).
type discoveryCounter struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (c discoveryCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == "/apis" {
		c.n.Add(1)
	}
	return c.next.RoundTrip(req)
}

func discoveryCountingConfig(n *atomic.Int64) *rest.Config {
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return discoveryCounter{next: rt, n: n} })
	return cfg
}

// kindCRD is a namespaced CRD of kind in group, version v1.
func kindCRD(group, kind, plural string) string {
	return fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: %[3]s.%[1]s
spec:
  group: %[1]s
  names: {kind: %[2]s, listKind: %[2]sList, plural: %[3]s, singular: %[3]s}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`, group, kind, plural)
}

// kindChart is a chart whose templates hold an object of kind (and a
// ConfigMap), with the kind's CRD in crds/ when withCRD is set.
func kindChart(t *testing.T, group, kind, plural string, withCRD bool) *helmrelease.Chart {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"Chart.yaml":               "apiVersion: v2\nname: " + plural + "\nversion: 0.1.0\n",
		"templates/object.yaml":    "apiVersion: " + group + "/v1\nkind: " + kind + "\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  size: 3\n",
		"templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  a: b\n",
	}
	if withCRD {
		files["crds/crd.yaml"] = kindCRD(group, kind, plural)
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ch, err := helmrelease.LoadChartDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// createCRD creates the CRD of kind and waits until it is established.
func createCRD(t *testing.T, group, kind, plural string) {
	t.Helper()
	ctx := context.Background()
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict([]byte(kindCRD(group, kind, plural)), &crd); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, &crd); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(&crd), &crd); err != nil {
			t.Fatal(err)
		}
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("CRD %s not established: %+v", crd.Name, crd.Status.Conditions)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDiscoveryShared: views of one Discovery share a download when it is
// recent enough for them, download again when invalidated or reset, see a
// kind created after they were, and an identity of its own downloads for
// itself.
func TestDiscoveryShared(t *testing.T) {
	var n atomic.Int64
	cfg := discoveryCountingConfig(&n)
	d := new(cluster.Discovery)
	a, am, err := cluster.DiscoveryView(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, bm, err := cluster.DiscoveryView(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cm := schema.GroupKind{Kind: "ConfigMap"}
	if m, err := bm.RESTMapping(cm, "v1"); err != nil || m.Resource.Resource != "configmaps" {
		t.Fatalf("ConfigMap mapping: %+v %v", m, err)
	}
	first := n.Load()
	if first == 0 {
		t.Fatal("no discovery request counted")
	}
	// b's download is more recent than a, so a uses it.
	if m, err := am.RESTMapping(schema.GroupKind{Group: "apps", Kind: "Deployment"}); err != nil || m.Resource.Resource != "deployments" {
		t.Fatalf("Deployment mapping: %+v %v", m, err)
	}
	if _, err := a.ServerGroups(); err != nil {
		t.Fatal(err)
	}
	if !a.Fresh() {
		t.Error("a view served by a recent download is not fresh")
	}
	if got := n.Load(); got != first {
		t.Errorf("%d discovery requests after a second view's use, want %d", got, first)
	}
	a.Invalidate()
	if a.Fresh() {
		t.Error("an invalidated view is fresh")
	}
	if _, _, err := a.ServerGroupsAndResources(); err != nil {
		t.Fatal(err)
	}
	if got := n.Load(); got <= first {
		t.Errorf("no download after Invalidate (%d requests)", got)
	}

	// A kind created now: a new view sees it; an old one once reset.
	gk := schema.GroupKind{Group: "disco.example.com", Kind: "Sprocket"}
	createCRD(t, gk.Group, gk.Kind, "sprockets")
	_, cm2, err := cluster.DiscoveryView(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cm2.RESTMapping(gk, "v1"); err != nil {
		t.Errorf("a view created after the CRD: %v", err)
	}
	am.Reset()
	if _, err := am.RESTMapping(gk, "v1"); err != nil {
		t.Errorf("a view reset after the CRD: %v", err)
	}

	// Another identity downloads for itself.
	other := rest.CopyConfig(cfg)
	other.Impersonate = rest.ImpersonationConfig{UserName: "discovery-tester", Groups: []string{"system:authenticated"}}
	before := n.Load()
	_, om, err := cluster.DiscoveryView(d, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := om.RESTMapping(cm, "v1"); err != nil {
		t.Fatal(err)
	}
	if n.Load() == before {
		t.Error("another identity was served the first identity's download")
	}

	// Many views at once.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			v, m, err := cluster.DiscoveryView(d, cfg)
			if err == nil {
				_, err = m.RESTMapping(gk, "v1")
			}
			if err == nil {
				_, err = v.ServerPreferredResources()
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestDiscoveryReleased: discovery data lives as long as a Client holds
// it, not longer.
func TestDiscoveryReleased(t *testing.T) {
	d := new(cluster.Discovery)
	hold := func() *cluster.Client {
		c, err := cluster.New(context.Background(), cluster.Options{Config: env.Config, Namespace: "default", Discovery: d})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Inventory(&cluster.Release{Name: "x", Manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	func() {
		c := hold()
		runtime.GC()
		if n := cluster.DiscoveryHeld(d); n != 1 {
			t.Fatalf("%d downloads held while a Client uses one, want 1", n)
		}
		runtime.KeepAlive(c)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for cluster.DiscoveryHeld(d) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("discovery data still held with no Client left")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDiscoverySharedInstalls: Clients sharing a warm Discovery install a
// chart whose crds/ brings a new kind it uses, and a chart using a kind
// whose CRD was created after the cache was warm, both by a Client
// created before that CRD existed and by one created after.
func TestDiscoverySharedInstalls(t *testing.T) {
	ctx := context.Background()
	ns := "disco-installs"
	namespace(t, ns)
	d := new(cluster.Discovery)
	opts := cluster.InstallOptions{Timeout: time.Minute, Wait: cluster.Wait{Disable: true}}
	newShared := func() *cluster.Client {
		c, err := cluster.New(ctx, cluster.Options{Config: env.Config, Namespace: ns, Discovery: d})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	early := newShared()
	if _, err := newShared().Install(ctx, "warm", chart(t), map[string]any{"replicaCount": 0}, cluster.InstallOptions{Timeout: time.Minute, CRDs: cluster.CRDsSkip, DisableHooks: true, Wait: cluster.Wait{Disable: true}}); err != nil {
		t.Fatalf("warm-up install: %v", err)
	}

	if _, err := newShared().Install(ctx, "crds", kindChart(t, "crds.disco.example.com", "Cog", "cogs", true), nil, opts); err != nil {
		t.Fatalf("chart with its CRD in crds/: %v", err)
	}
	createCRD(t, "later.disco.example.com", "Gear", "gears")
	gears := kindChart(t, "later.disco.example.com", "Gear", "gears", false)
	if _, err := newShared().Install(ctx, "gears-new", gears, nil, opts); err != nil {
		t.Fatalf("a Client created after the CRD: %v", err)
	}
	if _, err := early.Install(ctx, "gears-early", gears, nil, opts); err != nil {
		t.Fatalf("a Client created before the CRD: %v", err)
	}
	for _, o := range []struct{ group, kind, name string }{
		{"crds.disco.example.com", "Cog", "crds"},
		{"later.disco.example.com", "Gear", "gears-new"},
		{"later.disco.example.com", "Gear", "gears-early"},
	} {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(schema.GroupVersionKind{Group: o.group, Version: "v1", Kind: o.kind})
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: o.name}, u); err != nil {
			t.Errorf("%s %s not installed: %v", o.kind, o.name, err)
		}
	}
}
