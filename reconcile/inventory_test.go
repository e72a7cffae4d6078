package reconcile

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func TestObjectRefID(t *testing.T) {
	tests := []struct {
		ref    ObjectRef
		id     string
		subj   string
		parsed ObjectRef
	}{
		{ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "ns", Name: "web"}, "ns_web_apps_Deployment", "Deployment/ns/web", ObjectRef{}},
		{ObjectRef{Version: "v1", Kind: "Namespace", Name: "ns"}, "_ns__Namespace", "Namespace/ns", ObjectRef{}},
		{ObjectRef{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole", Name: "system:x"}, "_system__x_rbac.authorization.k8s.io_ClusterRole", "ClusterRole/system:x", ObjectRef{}},
	}
	for _, tt := range tests {
		if got := tt.ref.ID(); got != tt.id {
			t.Errorf("ID() = %q, want %q", got, tt.id)
		}
		if got := tt.ref.String(); got != tt.subj {
			t.Errorf("String() = %q, want %q", got, tt.subj)
		}
		back, err := InventoryEntry{ID: tt.id, Version: tt.ref.Version}.Ref()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.ref, back); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestInventoryEntryRefErrors(t *testing.T) {
	for _, e := range []InventoryEntry{
		{ID: "", Version: "v1"},
		{ID: "a_b_c", Version: "v1"},
		{ID: "ns_name_apps_Deployment", Version: ""},
		{ID: "ns__apps_Deployment", Version: "v1"},
	} {
		if _, err := e.Ref(); err == nil {
			t.Errorf("Ref(%+v): want error", e)
		}
	}
}

func TestInventorySetOperations(t *testing.T) {
	cm := func(n string) ObjectRef { return ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "ns", Name: n} }
	old := NewInventory(cm("a"), cm("b"), cm("c"))
	next := NewInventory(cm("c"), cm("d"), cm("a"))

	if diff := cmp.Diff(NewInventory(cm("b")), old.Stale(next)); diff != "" {
		t.Errorf("Stale (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(NewInventory(cm("a"), cm("b"), cm("c"), cm("d")), old.Union(next)); diff != "" {
		t.Errorf("Union (-want +got):\n%s", diff)
	}
	// A version change of the same object is not stale, and Union keeps the newer version.
	v2 := ObjectRef{Group: "x.io", Version: "v2", Kind: "Thing", Namespace: "ns", Name: "t"}
	v1 := v2
	v1.Version = "v1"
	if got := NewInventory(v1).Stale(NewInventory(v2)); got.Len() != 0 {
		t.Errorf("version change counted as stale: %v", got)
	}
	if got := NewInventory(v1).Union(NewInventory(v2)).Entries; len(got) != 1 || got[0].Version != "v2" {
		t.Errorf("Union kept %v, want v2 only", got)
	}
	if !old.Contains(cm("b")) || old.Contains(cm("z")) {
		t.Error("Contains is wrong")
	}
	inv := InventoryOf([]*unstructured.Unstructured{obj("apps/v1", "Deployment", "ns", "web"), obj("v1", "Namespace", "", "ns")})
	want := Inventory{Entries: []InventoryEntry{{ID: "_ns__Namespace", Version: "v1"}, {ID: "ns_web_apps_Deployment", Version: "v1"}}}
	if diff := cmp.Diff(want, inv); diff != "" {
		t.Errorf("InventoryOf (-want +got):\n%s", diff)
	}
}

func TestChangeSet(t *testing.T) {
	r := func(n string) ObjectRef { return ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "ns", Name: n} }
	cs := ChangeSet{}
	cs.Add(ChangeSetEntry{Ref: r("b"), Action: Configured}, ChangeSetEntry{Ref: r("a"), Action: Created},
		ChangeSetEntry{Ref: r("c"), Action: Unchanged}, ChangeSetEntry{Ref: r("d"), Action: Deleted},
		ChangeSetEntry{Ref: r("e"), Action: Skipped})
	if !cs.Changed() {
		t.Error("Changed() = false")
	}
	if diff := cmp.Diff(map[Action]int{Created: 1, Configured: 1, Unchanged: 1, Deleted: 1, Skipped: 1}, cs.Count()); diff != "" {
		t.Error(diff)
	}
	want := "ConfigMap/ns/a created\nConfigMap/ns/b configured\nConfigMap/ns/d deleted"
	if got := cs.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	cs.Add(ChangeSetEntry{Ref: r("f"), Action: Skipped, NotPresent: true})
	if diff := cmp.Diff(NewInventory(r("a"), r("b"), r("c"), r("e")), cs.Inventory()); diff != "" {
		t.Errorf("Inventory (-want +got):\n%s", diff)
	}
	if (ChangeSet{Entries: []ChangeSetEntry{{Ref: r("x"), Action: Unchanged}}}).Changed() {
		t.Error("unchanged set reports a change")
	}
}

func FuzzInventoryEntryRef(f *testing.F) {
	f.Add("ns_name_apps_Deployment", "v1")
	f.Add("_system__x_rbac.authorization.k8s.io_ClusterRole", "v1")
	f.Add("___", "")
	f.Fuzz(func(t *testing.T, id, v string) {
		r, err := InventoryEntry{ID: id, Version: v}.Ref()
		if err != nil {
			return
		}
		if r.Name == "" || r.Kind == "" || r.Version == "" {
			t.Fatalf("accepted %q with empty parts: %+v", id, r)
		}
	})
}
