package reconciletest_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/reconcile/reconciletest"
)

// TestWorkloads waits for a Deployment with replicas: the Workloads
// option schedules its Pods onto simulated nodes.
func TestWorkloads(t *testing.T) {
	env := reconciletest.New(t, reconciletest.Options{Workloads: true})
	ns := env.Namespace(t, "workloads")
	var obj map[string]any
	doc := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ` + ns + `}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
`
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatal(err)
	}
	m, err := reconcile.NewManager(env.Client, reconcile.Options{Owner: reconcile.Owner{Name: "t", Namespace: ns}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs, err := m.Apply(ctx, []*unstructured.Unstructured{{Object: obj}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(ctx, cs.Inventory(), reconcile.WaitOptions{Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	var dep appsv1.Deployment
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &dep); err != nil {
		t.Fatal(err)
	}
	if dep.Status.AvailableReplicas != 2 {
		t.Errorf("available replicas %d, want 2", dep.Status.AvailableReplicas)
	}
}
