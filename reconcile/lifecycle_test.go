package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	ctrlreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gitopskit/gitopskit/reconcile"
)

const testFinalizer = "example.com/finalizer"

// deploymentLifecycle is a Lifecycle over Deployments whose hooks record
// their calls; "suspend" in the annotations suspends.
type deploymentLifecycle struct {
	reconcile.Lifecycle[*appsv1.Deployment]
	runs, finalized int
	gone            []types.NamespacedName
	runErr, finErr  error
	run             func(ctx context.Context, obj *appsv1.Deployment, status *reconcile.StatusPatcher) error
}

func newLifecycle(objs ...client.Object) (*deploymentLifecycle, client.Client) {
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(objs...).WithStatusSubresource(&appsv1.Deployment{}).Build()
	d := &deploymentLifecycle{}
	d.Lifecycle = reconcile.Lifecycle[*appsv1.Deployment]{
		Client:    c,
		New:       func() *appsv1.Deployment { return &appsv1.Deployment{} },
		Finalizer: testFinalizer,
		Run: func(ctx context.Context, obj *appsv1.Deployment, status *reconcile.StatusPatcher) (ctrlreconcile.Result, error) {
			d.runs++
			obj.Status.Replicas = 3
			if d.run != nil {
				if err := d.run(ctx, obj, status); err != nil {
					return ctrlreconcile.Result{}, err
				}
			}
			return ctrlreconcile.Result{RequeueAfter: time.Minute}, d.runErr
		},
		Finalize: func(context.Context, *appsv1.Deployment) error {
			d.finalized++
			return d.finErr
		},
		Suspended: func(obj *appsv1.Deployment) bool { return obj.Annotations["suspend"] == "true" },
		Observe:   func(obj *appsv1.Deployment) { obj.Status.ObservedGeneration = obj.Generation },
		Gone:      func(key types.NamespacedName) { d.gone = append(d.gone, key) },
	}
	return d, c
}

func deployment(name string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name, Generation: 2}}
}

func request(name string) ctrlreconcile.Request {
	return ctrlreconcile.Request{NamespacedName: types.NamespacedName{Namespace: "apps", Name: name}}
}

func get(t *testing.T, c client.Client, name string) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: "apps", Name: name}, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

func TestLifecycleRun(t *testing.T) {
	ctx := context.Background()
	l, c := newLifecycle(deployment("web"))
	res, err := l.Reconcile(ctx, request("web"))
	if err != nil || res.RequeueAfter != time.Minute {
		t.Fatalf("Reconcile = %+v, %v", res, err)
	}
	got := get(t, c, "web")
	if l.runs != 1 || got.Status.Replicas != 3 || got.Status.ObservedGeneration != got.Generation {
		t.Errorf("after %d runs: status %+v, generation %d", l.runs, got.Status, got.Generation)
	}
	if len(got.Finalizers) != 1 || got.Finalizers[0] != testFinalizer {
		t.Errorf("finalizers = %v", got.Finalizers)
	}
}

func TestLifecycleRunErrorStillPatchesStatus(t *testing.T) {
	l, c := newLifecycle(deployment("web"))
	l.runErr = errors.New("boom")
	if _, err := l.Reconcile(context.Background(), request("web")); !errors.Is(err, l.runErr) {
		t.Fatalf("Reconcile error = %v, want %v", err, l.runErr)
	}
	if got := get(t, c, "web"); got.Status.Replicas != 3 || got.Status.ObservedGeneration != 2 {
		t.Errorf("status after a failed run = %+v", got.Status)
	}
}

func TestLifecycleSuspended(t *testing.T) {
	d := deployment("web")
	d.Annotations = map[string]string{"suspend": "true"}
	l, c := newLifecycle(d)
	if _, err := l.Reconcile(context.Background(), request("web")); err != nil {
		t.Fatal(err)
	}
	got := get(t, c, "web")
	if l.runs != 0 || got.Status.ObservedGeneration != 0 {
		t.Errorf("suspended object: %d runs, status %+v", l.runs, got.Status)
	}
	if len(got.Finalizers) != 1 {
		t.Errorf("suspended object: finalizers %v, want the finalizer added", got.Finalizers)
	}
}

func TestLifecycleNotFound(t *testing.T) {
	l, _ := newLifecycle()
	if _, err := l.Reconcile(context.Background(), request("gone")); err != nil {
		t.Fatal(err)
	}
	if l.runs != 0 || len(l.gone) != 1 || l.gone[0].Name != "gone" {
		t.Errorf("runs %d, gone %v", l.runs, l.gone)
	}
}

func TestLifecycleDeletion(t *testing.T) {
	ctx := context.Background()
	d := deployment("web")
	d.Finalizers = []string{testFinalizer}
	l, c := newLifecycle(d)
	if err := c.Delete(ctx, get(t, c, "web")); err != nil {
		t.Fatal(err)
	}

	// A failed clean-up keeps the finalizer.
	l.finErr = errors.New("cannot clean up")
	if _, err := l.Reconcile(ctx, request("web")); !errors.Is(err, l.finErr) {
		t.Fatalf("Reconcile error = %v, want %v", err, l.finErr)
	}
	if got := get(t, c, "web"); len(got.Finalizers) != 1 || len(l.gone) != 0 {
		t.Errorf("after a failed Finalize: finalizers %v, gone %v", got.Finalizers, l.gone)
	}

	l.finErr = nil
	if _, err := l.Reconcile(ctx, request("web")); err != nil {
		t.Fatal(err)
	}
	if l.finalized != 2 || l.runs != 0 || len(l.gone) != 1 {
		t.Errorf("finalized %d, runs %d, gone %v", l.finalized, l.runs, l.gone)
	}
	var after appsv1.Deployment
	if err := c.Get(ctx, types.NamespacedName{Namespace: "apps", Name: "web"}, &after); err == nil {
		t.Errorf("object still exists with finalizers %v", after.Finalizers)
	}
}

// A progress patch during Run becomes the base of the final patch, so a
// value set for the progress patch and reverted afterwards is reverted in
// the cluster too.
func TestLifecycleProgressPatch(t *testing.T) {
	l, c := newLifecycle(deployment("web"))
	l.run = func(ctx context.Context, obj *appsv1.Deployment, status *reconcile.StatusPatcher) error {
		obj.Status.ReadyReplicas = 1
		if err := status.Patch(ctx, obj); err != nil {
			return err
		}
		if got := get(t, c, "web"); got.Status.ReadyReplicas != 1 {
			t.Errorf("progress patch not sent: %+v", got.Status)
		}
		obj.Status.ReadyReplicas = 0
		return nil
	}
	if _, err := l.Reconcile(context.Background(), request("web")); err != nil {
		t.Fatal(err)
	}
	if got := get(t, c, "web"); got.Status.ReadyReplicas != 0 || got.Status.Replicas != 3 {
		t.Errorf("final status = %+v, want readyReplicas reverted to 0", got.Status)
	}
}

// A Lifecycle runs the kind's work between the shared steps: here a
// Deployment is reconciled once, its finalizer added and its status
// (observedGeneration included) patched.
func ExampleLifecycle() {
	ctx := context.Background()
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).
		WithObjects(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web", Generation: 1}}).
		WithStatusSubresource(&appsv1.Deployment{}).Build()
	l := &reconcile.Lifecycle[*appsv1.Deployment]{
		Client:    c,
		New:       func() *appsv1.Deployment { return &appsv1.Deployment{} },
		Finalizer: "example.com/cleanup",
		Run: func(ctx context.Context, obj *appsv1.Deployment, _ *reconcile.StatusPatcher) (ctrlreconcile.Result, error) {
			// A kind's work: fetch, build, apply, set its conditions.
			obj.Status.Replicas = 1
			return ctrlreconcile.Result{RequeueAfter: 10 * time.Minute}, nil
		},
		Observe: func(obj *appsv1.Deployment) { obj.Status.ObservedGeneration = obj.Generation },
	}
	res, err := l.Reconcile(ctx, ctrlreconcile.Request{NamespacedName: types.NamespacedName{Namespace: "apps", Name: "web"}})
	fmt.Println(res.RequeueAfter, err)

	var got appsv1.Deployment
	_ = c.Get(ctx, types.NamespacedName{Namespace: "apps", Name: "web"}, &got)
	fmt.Println(got.Finalizers, got.Status.Replicas, got.Status.ObservedGeneration)
	// Output:
	// 10m0s <nil>
	// [example.com/cleanup] 1 1
}
