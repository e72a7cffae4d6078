package clustertest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/reconcile"
)

// Workloads whose Pods kube-scheduler places on kwok's fake nodes: the
// health wait sees them become healthy the way a real cluster reports it.

// applyAndWait applies docs into a fresh namespace and waits for health.
func applyAndWait(t *testing.T, prefix, docs string, timeout time.Duration, checks ...reconcile.HealthCheckExpr) (string, error) {
	t.Helper()
	ns := uniqueNS(prefix)
	m := newManager(t, nil, reconcile.Options{Owner: reconcile.Owner{Name: prefix, Namespace: "flux-system"}, HealthChecks: checks})
	ctx := ctxT(t, 2*time.Minute)
	cs, err := m.Apply(ctx, objects(t, ns, docs))
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return ns, m.Wait(ctx, cs.Inventory(), reconcile.WaitOptions{Timeout: timeout})
}

func TestWaitDeploymentWithReplicasAvailable(t *testing.T) {
	ns, err := applyAndWait(t, "replicas", `
apiVersion: v1
kind: Namespace
metadata: {name: NS}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: NS}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
`, time.Minute)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	dep, _ := get(t, reconcile.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: ns, Name: "web"})
	for _, f := range []string{"replicas", "readyReplicas", "availableReplicas", "updatedReplicas"} {
		if n, _, _ := unstructured.NestedInt64(dep.Object, "status", f); n != 3 {
			t.Errorf("status.%s = %d, want 3", f, n)
		}
	}
	available := false
	conds, _, _ := unstructured.NestedSlice(dep.Object, "status", "conditions")
	for _, c := range conds {
		c := c.(map[string]any)
		available = available || c["type"] == "Available" && c["status"] == "True"
	}
	if !available {
		t.Errorf("Deployment not Available: %v", conds)
	}
}

const jobDoc = `
apiVersion: v1
kind: Namespace
metadata: {name: NS}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: NS}
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations: {ANNOTATIONS}
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: busybox, command: [sh, -c, "exit 0"]}]
`

// A Job is healthy once it has completed, as in Flux's kustomize-controller:
// a started Job is still in progress. Its Pod runs for three seconds.
func TestWaitJobCompletes(t *testing.T) {
	ns, err := applyAndWait(t, "job",
		strings.Replace(jobDoc, "ANNOTATIONS", testenv.RunForAnnotation+": 3s", 1), time.Minute)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	job, _ := get(t, reconcile.ObjectRef{Group: "batch", Version: "v1", Kind: "Job", Namespace: ns, Name: "migrate"})
	if n, _, _ := unstructured.NestedInt64(job.Object, "status", "succeeded"); n != 1 {
		t.Errorf("wait returned before the Job completed: status.succeeded = %d, want 1", n)
	}
	if _, ok, _ := unstructured.NestedString(job.Object, "status", "completionTime"); !ok {
		t.Error("wait returned before the Job completed: no completionTime")
	}
}

// A Job whose Pod fails is reported Failed as soon as the Job controller
// gives up, with the reason from the Job's Failed condition, long before the
// wait's timeout.
func TestWaitJobFailsFast(t *testing.T) {
	start := time.Now()
	ns, err := applyAndWait(t, "jobfail", strings.Replace(jobDoc, "ANNOTATIONS",
		testenv.FailAnnotation+": 'migration failed', "+testenv.RunForAnnotation+": 2s", 1), 2*time.Minute)
	var he *reconcile.HealthError
	if !errors.As(err, &he) || he.TimedOut {
		t.Fatalf("want a fail-fast HealthError, got %v", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("failing Job reported after %v", d)
	}
	if len(he.Objects) != 1 {
		t.Fatalf("want only the Job unhealthy, got %+v", he.Objects)
	}
	o := he.Objects[0]
	if o.Ref.Kind != "Job" || o.Ref.Name != "migrate" || o.Status != "Failed" {
		t.Errorf("unhealthy object: %+v", o)
	}
	if want := "Job has reached the specified backoff limit"; !strings.Contains(o.Message, want) {
		t.Errorf("message %q lacks the Job's reason %q", o.Message, want)
	}
	if want := "Job/" + ns + "/migrate status Failed: Job Failed"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
}

// Health expressions for Jobs, as a Flux user would write them in a
// Kustomization's healthCheckExprs.
var jobExprs = reconcile.HealthCheckExpr{
	APIVersion: "batch/v1", Kind: "Job",
	Current: "status.?conditions.orValue([]).exists(c, c.type == 'Complete' && c.status == 'True')",
	Failed:  "status.?conditions.orValue([]).exists(c, c.type == 'Failed' && c.status == 'True')",
}

func TestWaitJobWithHealthExpressions(t *testing.T) {
	ns, err := applyAndWait(t, "jobexpr",
		strings.Replace(jobDoc, "ANNOTATIONS", testenv.RunForAnnotation+": 3s", 1), time.Minute, jobExprs)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	job, _ := get(t, reconcile.ObjectRef{Group: "batch", Version: "v1", Kind: "Job", Namespace: ns, Name: "migrate"})
	if n, _, _ := unstructured.NestedInt64(job.Object, "status", "succeeded"); n != 1 {
		t.Errorf("status.succeeded = %d, want 1", n)
	}

	start := time.Now()
	_, err = applyAndWait(t, "jobexprfail", strings.Replace(jobDoc, "ANNOTATIONS",
		testenv.FailAnnotation+": 'migration failed', "+testenv.RunForAnnotation+": 2s", 1), 2*time.Minute, jobExprs)
	var he *reconcile.HealthError
	if !errors.As(err, &he) || he.TimedOut || len(he.Objects) != 1 || he.Objects[0].Status != "Failed" {
		t.Fatalf("want a fail-fast HealthError naming the Job, got %v", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("failing Job reported after %v", d)
	}
}

func TestWaitDaemonSetRollsOutOnEveryNode(t *testing.T) {
	ns, err := applyAndWait(t, "daemons", `
apiVersion: v1
kind: Namespace
metadata: {name: NS}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: NS}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: busybox}]
`, time.Minute)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	ds, _ := get(t, reconcile.ObjectRef{Group: "apps", Version: "v1", Kind: "DaemonSet", Namespace: ns, Name: "agent"})
	want := int64(len(env.Nodes))
	if want == 0 {
		t.Fatal("the control plane has no fake nodes")
	}
	for _, f := range []string{"desiredNumberScheduled", "currentNumberScheduled", "numberReady", "numberAvailable", "updatedNumberScheduled"} {
		if n, _, _ := unstructured.NestedInt64(ds.Object, "status", f); n != want {
			t.Errorf("status.%s = %d, want %d", f, n, want)
		}
	}
}
