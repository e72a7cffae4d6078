package clustertest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/reconcile"
)

const realisticSet = `
apiVersion: v1
kind: Namespace
metadata:
  name: NS
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.NS.example.com
spec:
  group: NS.example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
---
apiVersion: NS.example.com/v1
kind: Widget
metadata: {name: gear, namespace: NS}
spec: {size: 3}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: NS}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: NS}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres:17}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: NS}
spec:
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: NS}
spec:
  managedBy: gitopskit.test/manual
  template:
    spec:
      restartPolicy: Never
      containers: [{name: m, image: busybox, command: ["true"]}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: NS}
data: {mode: production}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: NS}
stringData: {password: hunter2-secret}
`

func completeJob(t *testing.T, ns string, failed bool) {
	t.Helper()
	ctx := context.Background()
	job := &unstructured.Unstructured{}
	job.SetAPIVersion("batch/v1")
	job.SetKind("Job")
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "migrate"}, job); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	cond := func(typ, reason string) map[string]any {
		return map[string]any{"type": typ, "status": "True", "reason": reason, "message": typ, "lastTransitionTime": now, "lastProbeTime": now}
	}
	st := map[string]any{"startTime": now}
	if failed {
		st["failed"] = int64(1)
		st["conditions"] = []any{cond("FailureTarget", "BackoffLimitExceeded"), cond("Failed", "BackoffLimitExceeded")}
	} else {
		st["succeeded"] = int64(1)
		st["completionTime"] = now
		st["conditions"] = []any{cond("SuccessCriteriaMet", "CompletionsReached"), cond("Complete", "CompletionsReached")}
	}
	job.Object["status"] = st
	if err := env.Client.Status().Update(ctx, job); err != nil {
		t.Fatalf("setting Job status: %v", err)
	}
}

// waitObserved waits until the deployment controller has seen the
// Deployment ns/name at its current generation and annotated its revision.
func waitObserved(t *testing.T, ns, name string) {
	t.Helper()
	ref := reconcile.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: ns, Name: name}
	deadline := time.Now().Add(time.Minute)
	for {
		d, _ := get(t, ref)
		og, _, _ := unstructured.NestedInt64(d.Object, "status", "observedGeneration")
		if _, ok := d.GetAnnotations()["deployment.kubernetes.io/revision"]; ok && og == d.GetGeneration() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deployment controller did not observe %s/%s", ns, name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func setWidgetStatus(t *testing.T, ns string, st map[string]any) {
	t.Helper()
	w := &unstructured.Unstructured{}
	w.SetAPIVersion(ns + ".example.com/v1")
	w.SetKind("Widget")
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "gear"}, w); err != nil {
		t.Fatal(err)
	}
	w.Object["status"] = st
	if err := env.Client.Status().Update(context.Background(), w); err != nil {
		t.Fatal(err)
	}
}

func TestApplyReapplyDriftHealth(t *testing.T) {
	ns := uniqueNS("real")
	c, writes := newClient(t, nil)
	m := newManager(t, c, reconcile.Options{
		Owner: reconcile.Owner{Name: "app", Namespace: "flux-system"},
		HealthChecks: []reconcile.HealthCheckExpr{{
			APIVersion: ns + ".example.com/v1", Kind: "Widget",
			Current: "status.?phase.orValue('') == 'Ready'",
			Failed:  "status.?phase.orValue('') == 'Broken'",
		}},
	})
	ctx := ctxT(t, 2*time.Minute)
	objs := objects(t, ns, realisticSet)

	cs, err := m.Apply(ctx, objs)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	want := map[string]reconcile.Action{
		"Namespace/" + ns: reconcile.Created, "CustomResourceDefinition/widgets." + ns + ".example.com": reconcile.Created,
		"Widget/" + ns + "/gear": reconcile.Created, "Deployment/" + ns + "/web": reconcile.Created,
		"Job/" + ns + "/migrate": reconcile.Created, "ConfigMap/" + ns + "/settings": reconcile.Created,
		"Secret/" + ns + "/creds": reconcile.Created, "StatefulSet/" + ns + "/db": reconcile.Created,
		"Service/" + ns + "/db": reconcile.Created,
	}
	if diff := cmp.Diff(want, actions(cs)); diff != "" {
		t.Fatalf("first apply (-want +got):\n%s", diff)
	}
	if strings.Contains(cs.String(), "hunter2") {
		t.Error("change set leaks a secret")
	}
	// Owner labels are set on every object.
	settings, _ := get(t, cm(ns, "settings"))
	if diff := cmp.Diff(map[string]string{"kustomize.toolkit.fluxcd.io/name": "app", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}, settings.GetLabels()); diff != "" {
		t.Errorf("owner labels (-want +got):\n%s", diff)
	}

	// The Deployment has replicas: let its controller finish writing its own
	// fields (the revision annotation) first, or the re-apply races it.
	waitObserved(t, ns, "web")

	// Re-apply: everything unchanged and not a single write.
	before := writes.writes.Load()
	cs, err = m.Apply(ctx, objects(t, ns, realisticSet))
	if err != nil {
		t.Fatal(err)
	}
	for k, a := range actions(cs) {
		if a != reconcile.Unchanged {
			t.Errorf("re-apply: %s %s", k, a)
		}
	}
	if n := writes.writes.Load() - before; n != 0 {
		t.Errorf("re-apply made %d write requests", n)
	}

	// Drift: someone edits the ConfigMap; the next apply corrects it.
	settings.Object["data"] = map[string]any{"mode": "debug", "extra": "x"}
	if err := env.Client.Update(ctx, settings, client.FieldOwner("someone")); err != nil {
		t.Fatal(err)
	}
	cs, err = m.Apply(ctx, objects(t, ns, realisticSet))
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(cs)["ConfigMap/"+ns+"/settings"]; got != reconcile.Configured {
		t.Errorf("drifted ConfigMap: %s", got)
	}
	if n := len(cs.Filter(reconcile.Configured)); n != 1 {
		t.Errorf("%d objects configured, want 1: %v", n, cs.Entries)
	}
	settings, _ = get(t, cm(ns, "settings"))
	if mode, _, _ := unstructured.NestedString(settings.Object, "data", "mode"); mode != "production" {
		t.Errorf("drift not corrected: mode=%q", mode)
	}

	// Health: the Widget is in progress, the Job has not finished.
	inv := cs.Inventory()
	err = m.Wait(ctx, inv, reconcile.WaitOptions{Timeout: 3 * time.Second})
	var he *reconcile.HealthError
	if !errors.As(err, &he) || !he.TimedOut {
		t.Fatalf("want a timeout HealthError, got %v", err)
	}
	msg := err.Error()
	for _, s := range []string{"Widget/" + ns + "/gear status InProgress", "Job/" + ns + "/migrate status InProgress"} {
		if !strings.Contains(msg, s) {
			t.Errorf("timeout error lacks %q: %s", s, msg)
		}
	}
	if strings.Contains(msg, "ConfigMap/") {
		t.Errorf("timeout error lists a healthy ConfigMap: %s", msg)
	}

	// Failed fails fast, long before the timeout.
	setWidgetStatus(t, ns, map[string]any{"phase": "Broken"})
	start := time.Now()
	err = m.Wait(ctx, inv, reconcile.WaitOptions{Timeout: time.Minute})
	if !errors.As(err, &he) || he.TimedOut || !strings.Contains(err.Error(), "Widget/"+ns+"/gear status Failed") {
		t.Fatalf("want fail-fast HealthError naming the Widget, got %v", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("fail fast took %v", time.Since(start))
	}

	// Cancellation through ctx.
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(500 * time.Millisecond); cancel() }()
	setWidgetStatus(t, ns, map[string]any{"phase": "Pending"})
	if err := m.Wait(cctx, inv, reconcile.WaitOptions{Timeout: time.Minute}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}

	// All healthy: Widget Ready, Job complete, Deployment and StatefulSet
	// reconciled by kube-controller-manager.
	setWidgetStatus(t, ns, map[string]any{"phase": "Ready"})
	completeJob(t, ns, false)
	if err := m.Wait(ctx, inv, reconcile.WaitOptions{Timeout: time.Minute}); err != nil {
		t.Fatalf("wait: %v", err)
	}
}

func TestDiffMasksSecrets(t *testing.T) {
	ns := uniqueNS("diff")
	m := newManager(t, nil, reconcile.Options{Owner: reconcile.Owner{Name: "d", Namespace: "x"}})
	ctx := ctxT(t, time.Minute)
	set := `
apiVersion: v1
kind: Namespace
metadata: {name: NS}
---
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: NS}
stringData: {token: first-secret-value}
`
	if _, err := m.Apply(ctx, objects(t, ns, set)); err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(set, "first-secret-value", "second-secret-value", 1)
	res, err := m.Diff(ctx, objects(t, ns, changed))
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, r := range res {
		if r.Entry.Ref.Kind != "Secret" {
			continue
		}
		found = true
		if r.Entry.Action != reconcile.Configured || r.Live == nil || r.Merged == nil {
			t.Fatalf("secret diff: %+v", r)
		}
		for _, u := range []*unstructured.Unstructured{r.Live, r.Merged} {
			b, _ := u.MarshalJSON()
			for _, leak := range []string{"first-secret-value", "second-secret-value", "Zmlyc3Qtc2VjcmV0LXZhbHVl", "c2Vjb25kLXNlY3JldC12YWx1ZQ=="} {
				if strings.Contains(string(b), leak) {
					t.Errorf("diff leaks %q: %s", leak, b)
				}
			}
		}
	}
	if !found {
		t.Fatal("no diff for the Secret")
	}
	// Diff wrote nothing.
	s, _ := get(t, reconcile.ObjectRef{Version: "v1", Kind: "Secret", Namespace: ns, Name: "s"})
	if v, _, _ := unstructured.NestedString(s.Object, "data", "token"); v != "Zmlyc3Qtc2VjcmV0LXZhbHVl" {
		t.Errorf("Diff changed the secret: %q", v)
	}
}
