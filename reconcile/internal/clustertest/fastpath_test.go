package clustertest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/reconcile"
)

// Drift made in every way other writers make it is seen whether Apply
// lists groups and remembers what it applied, or dry-runs every object.
func TestDriftDetectionWithAndWithoutFullDryRun(t *testing.T) {
	for _, full := range []bool{false, true} {
		t.Run(fmt.Sprintf("FullDryRun=%v", full), func(t *testing.T) {
			ns := uniqueNS("fast")
			c, writes := newClient(t, nil)
			m := newManager(t, c, reconcile.Options{Owner: reconcile.Owner{Name: "app", Namespace: "flux-system"}, FullDryRun: full})
			ctx := ctxT(t, time.Minute)
			set := func(v string) []*unstructured.Unstructured {
				var b strings.Builder
				b.WriteString("apiVersion: v1\nkind: Namespace\nmetadata: {name: NS}\n")
				for i := range 6 {
					fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%d, namespace: NS}\ndata: {v: %q}\n", i, v)
				}
				return objects(t, ns, b.String())
			}
			cs, err := m.Apply(ctx, set("1"))
			if err != nil || len(cs.Filter(reconcile.Created)) != 7 {
				t.Fatalf("first apply: %v %v", cs.Count(), err)
			}
			w0 := writes.writes.Load()
			cs, err = m.Apply(ctx, set("1"))
			if err != nil || len(cs.Filter(reconcile.Unchanged)) != 7 || writes.writes.Load() != w0 {
				t.Fatalf("re-apply: %v, %d writes, %v", cs.Count(), writes.writes.Load()-w0, err)
			}

			// c0: edited with a plain update. c1: taken over by a forced apply.
			// c2: co-owned by kubectl with the same value. c3: deleted. c4: labels added by someone else.
			c0, _ := get(t, cm(ns, "c0"))
			c0.Object["data"] = map[string]any{"v": "edited"}
			if err := env.Client.Update(ctx, c0, client.FieldOwner("editor")); err != nil {
				t.Fatal(err)
			}
			c1 := cm(ns, "c1").Unstructured()
			c1.Object["data"] = map[string]any{"v": "other"}
			if err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(c1), client.FieldOwner("other-tool"), client.ForceOwnership); err != nil {
				t.Fatal(err)
			}
			c2 := cm(ns, "c2").Unstructured()
			c2.Object["data"] = map[string]any{"v": "1", "extra": "from-kubectl"}
			if err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(c2), client.FieldOwner("kubectl"), client.ForceOwnership); err != nil {
				t.Fatal(err)
			}
			if err := env.Client.Delete(ctx, cm(ns, "c3").Unstructured()); err != nil {
				t.Fatal(err)
			}
			c4, _ := get(t, cm(ns, "c4"))
			c4.SetLabels(map[string]string{"team": "x"})
			if err := env.Client.Update(ctx, c4, client.FieldOwner("labeler")); err != nil {
				t.Fatal(err)
			}
			cs, err = m.Apply(ctx, set("1"))
			if err != nil {
				t.Fatal(err)
			}
			got := actions(cs)
			want := map[string]reconcile.Action{
				"Namespace/" + ns:         reconcile.Unchanged,
				"ConfigMap/" + ns + "/c0": reconcile.Configured, "ConfigMap/" + ns + "/c1": reconcile.Configured,
				"ConfigMap/" + ns + "/c2": reconcile.Configured, "ConfigMap/" + ns + "/c3": reconcile.Created,
				"ConfigMap/" + ns + "/c4": reconcile.Configured, "ConfigMap/" + ns + "/c5": reconcile.Unchanged,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("after out-of-band changes (-want +got):\n%s", diff)
			}
			for _, name := range []string{"c0", "c1", "c2", "c3"} {
				o, _ := get(t, cm(ns, name))
				if diff := cmp.Diff(map[string]any{"v": "1"}, o.Object["data"]); diff != "" {
					t.Errorf("%s data (-want +got):\n%s", name, diff)
				}
			}
			// A change of the desired state is applied to every object.
			cs, err = m.Apply(ctx, set("2"))
			if err != nil || len(cs.Filter(reconcile.Configured)) != 6 {
				t.Fatalf("desired change: %v %v", cs.Count(), err)
			}
			// And everything settles to unchanged with no writes.
			w0 = writes.writes.Load()
			cs, err = m.Apply(ctx, set("2"))
			if err != nil || len(cs.Filter(reconcile.Unchanged)) != 7 || writes.writes.Load() != w0 {
				t.Fatalf("settled re-apply: %v, %d writes, %v", cs.Count(), writes.writes.Load()-w0, err)
			}
		})
	}
}

// Managers sharing a Memory recognise unchanged objects from one LIST,
// as long as their options are the same.
func TestSharedMemory(t *testing.T) {
	ns := uniqueNS("memory")
	c, counter := newClient(t, nil)
	ctx := ctxT(t, time.Minute)
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Namespace\nmetadata: {name: NS}\n")
	for i := range 5 {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%d, namespace: NS}\ndata: {v: x}\n", i)
	}
	set := func() []*unstructured.Unstructured { return objects(t, ns, b.String()) }
	mem := &reconcile.Memory{}
	owner := reconcile.Owner{Name: "app", Namespace: "flux-system"}
	if _, err := newManager(t, c, reconcile.Options{Owner: owner, Memory: mem}).Apply(ctx, set()); err != nil {
		t.Fatal(err)
	}
	requests := func(opts reconcile.Options) int64 {
		t.Helper()
		before := counter.requests.Load()
		cs, err := newManager(t, c, opts).Apply(ctx, set())
		if err != nil || len(cs.Filter(reconcile.Unchanged)) != 6 {
			t.Fatalf("re-apply: %v %v", cs.Count(), err)
		}
		return counter.requests.Load() - before
	}
	// One LIST for the ConfigMaps, one read for the lone Namespace.
	if n := requests(reconcile.Options{Owner: owner, Memory: mem}); n != 2 {
		t.Errorf("shared memory: %d requests, want 2", n)
	}
	// Without a record, each object is also read and dry-run by the full
	// path.
	if n := requests(reconcile.Options{Owner: owner}); n != 2+2+2*5 {
		t.Errorf("own memory: %d requests, want 14", n)
	}
	if n := requests(reconcile.Options{Owner: owner, Memory: mem, Force: true}); n != 2+2+2*5 {
		t.Errorf("different options: %d requests, want 14", n)
	}
}
