package kustomization

import (
	"sync"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopskit/gitopskit/reconcile"
)

func ks(ns, name, uid string) *kustomizev1.Kustomization {
	return &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(uid)}}
}

// One Memory per Kustomization object: the same object gets the same
// Memory, another name or a new UID under the same name gets a fresh one,
// and forget drops it.
func TestMemoryPerKustomization(t *testing.T) {
	r := &Reconciler{}
	a := r.memory(ks("ns", "apps", "u1"))
	tests := []struct {
		name string
		obj  *kustomizev1.Kustomization
		same bool
	}{
		{"same object", ks("ns", "apps", "u1"), true},
		{"other name", ks("ns", "infra", "u2"), false},
		{"other namespace", ks("other", "apps", "u3"), false},
	}
	for _, tc := range tests {
		if got := r.memory(tc.obj) == a; got != tc.same {
			t.Errorf("%s: same Memory = %v, want %v", tc.name, got, tc.same)
		}
	}
	// Recreated under the same name: a fresh Memory that replaces the old.
	b := r.memory(ks("ns", "apps", "u9"))
	if b == a {
		t.Error("a recreated Kustomization reused its predecessor's Memory")
	}
	if r.memory(ks("ns", "apps", "u9")) != b {
		t.Error("the recreated Kustomization's Memory was not kept")
	}
	r.forget(types.NamespacedName{Namespace: "ns", Name: "apps"})
	if r.memory(ks("ns", "apps", "u9")) == b {
		t.Error("forget kept the Memory")
	}
	if len(r.memories) != 3 {
		t.Errorf("%d memories kept, want 3", len(r.memories))
	}
	// Concurrent reconciles of one object share one Memory.
	var wg sync.WaitGroup
	got := make([]*reconcile.Memory, 8)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = r.memory(ks("ns", "db", "u5")) }()
	}
	wg.Wait()
	for _, m := range got {
		if m != got[0] {
			t.Fatal("concurrent calls got different Memories")
		}
	}
}
