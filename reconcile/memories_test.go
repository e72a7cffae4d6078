package reconcile

import (
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func memObj(ns, name, uid string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(uid)}}
}

// One Memory per object: the same object gets the same Memory, another
// name or a new UID under the same name gets a fresh one, and Forget drops
// it.
func TestMemoriesPerObject(t *testing.T) {
	var ms Memories
	a := ms.For(memObj("ns", "apps", "u1"))
	tests := []struct {
		name string
		obj  *corev1.ConfigMap
		same bool
	}{
		{"same object", memObj("ns", "apps", "u1"), true},
		{"other name", memObj("ns", "infra", "u2"), false},
		{"other namespace", memObj("other", "apps", "u3"), false},
	}
	for _, tc := range tests {
		if got := ms.For(tc.obj) == a; got != tc.same {
			t.Errorf("%s: same Memory = %v, want %v", tc.name, got, tc.same)
		}
	}
	// Recreated under the same name: a fresh Memory that replaces the old.
	b := ms.For(memObj("ns", "apps", "u9"))
	if b == a {
		t.Error("a recreated object reused its predecessor's Memory")
	}
	if ms.For(memObj("ns", "apps", "u9")) != b {
		t.Error("the recreated object's Memory was not kept")
	}
	ms.Forget(types.NamespacedName{Namespace: "ns", Name: "apps"})
	if ms.For(memObj("ns", "apps", "u9")) == b {
		t.Error("Forget kept the Memory")
	}
	if len(ms.m) != 3 {
		t.Errorf("%d memories kept, want 3", len(ms.m))
	}
	// Concurrent reconciles of one object share one Memory.
	var wg sync.WaitGroup
	got := make([]*Memory, 8)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = ms.For(memObj("ns", "db", "u5")) }()
	}
	wg.Wait()
	for _, m := range got {
		if m != got[0] {
			t.Fatal("concurrent calls got different Memories")
		}
	}
}
