package cluster_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/helmrelease/cluster"
	"github.com/gitopskit/gitopskit/reconcile"
)

// TestInventoryAndHealthChecks: a health expression failing the release's
// ConfigMap fails the install through Helm's kstatus watcher, and is
// ignored by the legacy wait; Inventory lists the manifest's objects in
// the release namespace, hooks left out.
func TestInventoryAndHealthChecks(t *testing.T) {
	ctx := context.Background()
	ns := "inventory"
	namespace(t, ns)
	c := newClient(t, env.Config, ns)
	checks := []reconcile.HealthCheckExpr{{APIVersion: "v1", Kind: "ConfigMap", Current: "data.greeting == 'fine'", Failed: "data.greeting == 'broken'"}}
	vals := map[string]any{"hook": map[string]any{"enabled": false}, "config": map[string]any{"greeting": "broken"}}

	_, err := c.Install(ctx, "poller", chart(t), vals, cluster.InstallOptions{Timeout: 20 * time.Second, CRDs: cluster.CRDsSkip,
		Wait: cluster.Wait{HealthChecks: checks}})
	if err == nil || !strings.Contains(err.Error(), "ConfigMap/inventory/poller-app") {
		t.Fatalf("install judged by the health expression: %v", err)
	}
	rel, err := c.Install(ctx, "legacy", chart(t), vals, cluster.InstallOptions{Timeout: time.Minute, CRDs: cluster.CRDsSkip,
		Wait: cluster.Wait{Legacy: true, HealthChecks: checks}})
	if err != nil {
		t.Fatalf("legacy wait: %v", err)
	}
	inv, err := c.Inventory(rel)
	if err != nil {
		t.Fatal(err)
	}
	want := []reconcile.InventoryEntry{
		{ID: ns + "_legacy-app__ConfigMap", Version: "v1"},
		{ID: ns + "_legacy-app__Service", Version: "v1"},
		{ID: ns + "_legacy-app_apps_Deployment", Version: "v1"},
	}
	if !reflect.DeepEqual(inv.Entries, want) {
		t.Errorf("inventory %+v, want %+v", inv.Entries, want)
	}
	if _, err := c.Inventory(nil); err == nil {
		t.Error("inventory of no release: no error")
	}
	bad := []reconcile.HealthCheckExpr{{APIVersion: "v1", Kind: "ConfigMap", Current: "data.greeting =="}}
	if _, err := c.Install(ctx, "invalid", chart(t), vals, cluster.InstallOptions{Wait: cluster.Wait{HealthChecks: bad}}); err == nil {
		t.Error("an invalid health expression was accepted")
	}
}
