package kustomization_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A requested re-reconciliation of an unchanged Kustomization reuses what
// the previous apply learnt (the reconciler keeps one reconcile.Memory per
// Kustomization), so it sends no server-side dry-run for its objects.
func TestReapplyWithoutDryRun(t *testing.T) {
	files := map[string]string{}
	for i := range 6 {
		files[fmt.Sprintf("apps/cm-%d.yaml", i)] = configMap(fmt.Sprintf("cm-%d", i), "k: v\n")
	}
	f := newFleet(t, "e2e-reapply", files)
	rev := f.get0()
	f.kustomization("apps", "./apps", nil)
	f.waitApplied("apps", rev)
	// The first apply created everything; a second full pass teaches the
	// memory what the cluster holds, then further passes are free.
	for i := range 3 {
		before := dryRuns.count(f.ns)
		requestReconcile(t, f, "apps", fmt.Sprintf("pass-%d", i))
		got := dryRuns.count(f.ns) - before
		t.Logf("pass %d: %d dry-run requests", i, got)
		if i > 0 && got != 0 {
			t.Errorf("pass %d of an unchanged Kustomization sent %d dry-run requests, want 0", i, got)
		}
	}
}

// requestReconcile sets reconcile.fluxcd.io/requestedAt and waits until the
// controller has handled it.
func requestReconcile(t *testing.T, f *fleet, name, token string) {
	t.Helper()
	k := f.get(name)
	base := k.DeepCopy()
	if k.Annotations == nil {
		k.Annotations = map[string]string{}
	}
	k.Annotations[meta.ReconcileRequestAnnotation] = token
	if err := env.Client.Patch(context.Background(), k, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	poll(t, 60*time.Second, "reconcile request "+token+" handled", func(ctx context.Context) (bool, error) {
		var got kustomizev1.Kustomization
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(k), &got); err != nil {
			return false, err
		}
		return got.Status.LastHandledReconcileAt == token, nil
	})
}
