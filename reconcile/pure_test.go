package reconcile

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	apimachineryjson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/client-go/rest"
)

func TestRequeuePolicy(t *testing.T) {
	half := func() float64 { return 0.5 }
	tests := []struct {
		name     string
		p        RequeuePolicy
		failures int
		want     time.Duration
	}{
		{"zero success", RequeuePolicy{}, 0, 10 * time.Minute},
		{"zero failure", RequeuePolicy{}, 3, 10 * time.Minute},
		{"interval", RequeuePolicy{Interval: time.Minute}, 0, time.Minute},
		{"retry", RequeuePolicy{Interval: time.Minute, RetryInterval: 10 * time.Second}, 1, 10 * time.Second},
		{"retry constant", RequeuePolicy{Interval: time.Minute, RetryInterval: 10 * time.Second}, 5, 10 * time.Second},
		{"backoff 1", RequeuePolicy{RetryInterval: time.Second, MaxRetryInterval: time.Minute}, 1, time.Second},
		{"backoff 4", RequeuePolicy{RetryInterval: time.Second, MaxRetryInterval: time.Minute}, 4, 8 * time.Second},
		{"backoff capped", RequeuePolicy{RetryInterval: time.Second, MaxRetryInterval: time.Minute}, 10, time.Minute},
		{"backoff huge", RequeuePolicy{RetryInterval: time.Second, MaxRetryInterval: time.Minute}, 5000, time.Minute},
		{"jitter mid", RequeuePolicy{Interval: time.Minute, Jitter: 0.1, Rand: half}, 0, time.Minute},
		{"jitter low", RequeuePolicy{Interval: time.Minute, Jitter: 0.1, Rand: func() float64 { return 0 }}, 0, 54 * time.Second},
		{"jitter clamped", RequeuePolicy{Interval: time.Minute, Jitter: 7, Rand: func() float64 { return 0 }}, 0, 0},
	}
	for _, tt := range tests {
		if got := tt.p.After(tt.failures); got != tt.want {
			t.Errorf("%s: After(%d) = %v, want %v", tt.name, tt.failures, got, tt.want)
		}
	}
	p := RequeuePolicy{Interval: time.Minute, Jitter: 0.2}
	for range 100 {
		if d := p.After(0); d < 48*time.Second || d >= 72*time.Second {
			t.Fatalf("jittered %v outside ±20%%", d)
		}
	}
}

func TestConditions(t *testing.T) {
	var list []metav1.Condition
	c := Conditions{List: &list, Generation: 3}
	c.Progressing("Fetching manifests for revision %s", "main@sha1:abc")
	if r := c.Get(ReadyCondition); r == nil || r.Status != metav1.ConditionUnknown || r.Reason != ProgressingReason || r.ObservedGeneration != 3 {
		t.Fatalf("Ready after Progressing: %+v", r)
	}
	c.Failed(BuildFailedReason, "kustomize build failed: %s", "boom")
	want := []metav1.Condition{
		{Type: ReconcilingCondition, Status: metav1.ConditionTrue, Reason: ProgressingWithRetryReason, Message: "kustomize build failed: boom", ObservedGeneration: 3},
		{Type: ReadyCondition, Status: metav1.ConditionFalse, Reason: BuildFailedReason, Message: "kustomize build failed: boom", ObservedGeneration: 3},
	}
	ignore := cmpopts.IgnoreFields(metav1.Condition{}, "LastTransitionTime")
	if diff := cmp.Diff(want, list, ignore); diff != "" {
		t.Errorf("after Failed (-want +got):\n%s", diff)
	}
	c.Stalled("", "invalid spec")
	if c.Get(ReconcilingCondition) != nil || !c.IsTrue(StalledCondition) || c.Get(ReadyCondition).Reason != ReconciliationFailedReason {
		t.Errorf("after Stalled: %+v", list)
	}
	c.Healthy(errors.New("Deployment/ns/web status InProgress"))
	if h := c.Get(HealthyCondition); h.Status != metav1.ConditionFalse || h.Reason != HealthCheckFailedReason {
		t.Errorf("Healthy(err) = %+v", h)
	}
	c.Healthy(context.Canceled)
	if h := c.Get(HealthyCondition); h.Reason != HealthCheckCanceledReason {
		t.Errorf("Healthy(canceled) = %+v", h)
	}
	c.Healthy(nil)
	c.Succeeded("Applied revision: %s", "main@sha1:abc")
	want = []metav1.Condition{
		{Type: ReadyCondition, Status: metav1.ConditionTrue, Reason: ReconciliationSucceededReason, Message: "Applied revision: main@sha1:abc", ObservedGeneration: 3},
		{Type: HealthyCondition, Status: metav1.ConditionTrue, Reason: SucceededReason, Message: "Health check passed", ObservedGeneration: 3},
	}
	if diff := cmp.Diff(want, list, ignore); diff != "" {
		t.Errorf("after Succeeded (-want +got):\n%s", diff)
	}
	if !IsReady(list, 3) || IsReady(list, 4) {
		t.Error("IsReady ignores observedGeneration")
	}
	// Flux's reason strings.
	for got, want := range map[string]string{ReadyCondition: "Ready", HealthCheckFailedReason: "HealthCheckFailed", DependencyNotReadyReason: "DependencyNotReady", PruneFailedReason: "PruneFailed", ArtifactFailedReason: "ArtifactFailed"} {
		if got != want {
			t.Errorf("constant %q, want %q", got, want)
		}
	}
}

func TestGraph(t *testing.T) {
	u := func(ns, name string, deps ...string) Unit {
		var d []Dependency
		for _, x := range deps {
			ns2, n, ok := strings.Cut(x, "/")
			if !ok {
				ns2, n = "", x
			}
			d = append(d, Dependency{Ref: UnitRef{Namespace: ns2, Name: n}})
		}
		return Unit{Ref: UnitRef{Namespace: ns, Name: name}, DependsOn: d}
	}
	g, err := NewGraph([]Unit{u("a", "apps", "infra", "b/db"), u("a", "infra", "crds"), u("a", "crds"), u("b", "db", "a/crds", "ext/outside")})
	if err != nil {
		t.Fatal(err)
	}
	want := []UnitRef{{"a", "crds"}, {"a", "infra"}, {"b", "db"}, {"a", "apps"}}
	if diff := cmp.Diff(want, g.Order()); diff != "" {
		t.Errorf("Order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]UnitRef{{"a", "infra"}, {"b", "db"}}, g.Dependents(UnitRef{"a", "crds"})); diff != "" {
		t.Errorf("Dependents (-want +got):\n%s", diff)
	}
	if got := g.DependsOn(UnitRef{"a", "apps"}); got[0].Ref != (UnitRef{"a", "infra"}) {
		t.Errorf("namespace not defaulted: %+v", got)
	}

	_, err = NewGraph([]Unit{u("n", "x", "y"), u("n", "y", "z"), u("n", "z", "x"), u("n", "w")})
	var ce *CycleError
	if !errors.As(err, &ce) {
		t.Fatalf("want CycleError, got %v", err)
	}
	if got, want := err.Error(), "dependency cycle: n/x -> n/y -> n/z -> n/x"; got != want {
		t.Errorf("cycle error %q, want %q", got, want)
	}
	if _, err := NewGraph([]Unit{u("n", "x", "x")}); !errors.As(err, &ce) {
		t.Errorf("self dependency: %v", err)
	}
	if _, err := NewGraph([]Unit{u("n", "x"), u("n", "x")}); err == nil || !strings.Contains(err.Error(), "n/x listed twice") {
		t.Errorf("duplicate: %v", err)
	}
}

func TestCheckDependencies(t *testing.T) {
	unit := Unit{Ref: UnitRef{"ns", "app"}, DependsOn: []Dependency{{Ref: UnitRef{Name: "db"}}, {Ref: UnitRef{Namespace: "other", Name: "cache"}}}}
	var seen []UnitRef
	checker := ReadinessFunc(func(_ context.Context, self UnitRef, d Dependency) error {
		seen = append(seen, d.Ref)
		if d.Ref.Name == "cache" {
			return errors.New("Ready is False")
		}
		return nil
	})
	err := CheckDependencies(context.Background(), unit, checker)
	var nr *DependencyNotReadyError
	if !errors.As(err, &nr) || len(nr.Reasons) != 1 {
		t.Fatalf("want one not-ready dependency, got %v", err)
	}
	if want := "dependencies of ns/app not ready: other/cache: Ready is False"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if diff := cmp.Diff([]UnitRef{{"ns", "db"}, {"other", "cache"}}, seen); diff != "" {
		t.Error(diff)
	}
}

func TestHealthEvaluator(t *testing.T) {
	h := HealthCheckExpr{
		APIVersion: "example.com/v1", Kind: "Widget",
		InProgress: "has(status.phase) && status.phase == 'Pending'",
		Failed:     "status.?phase.orValue('') == 'Broken'",
		Current:    "status.conditions.filter(c, c.type == 'Ready').all(c, c.status == 'True')",
	}
	ev, err := CompileHealthCheck(h)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(gen int64, st map[string]any) *unstructured.Unstructured {
		u := obj("example.com/v1", "Widget", "ns", "w")
		u.SetGeneration(gen)
		if st != nil {
			u.Object["status"] = st
		}
		return u
	}
	ready := []any{map[string]any{"type": "Ready", "status": "True"}}
	tests := []struct {
		name    string
		u       *unstructured.Unstructured
		want    status.Status
		wantErr bool
	}{
		{"current", mk(1, map[string]any{"conditions": ready}), status.CurrentStatus, false},
		{"stale generation", mk(2, map[string]any{"observedGeneration": int64(1), "conditions": ready}), status.InProgressStatus, false},
		{"in progress first", mk(1, map[string]any{"phase": "Pending", "conditions": ready}), status.InProgressStatus, false},
		{"failed", mk(1, map[string]any{"phase": "Broken", "conditions": ready}), status.FailedStatus, false},
		{"not ready", mk(1, map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "False"}}}), status.CurrentStatus, false},
		{"missing field errors", mk(1, nil), "", true},
	}
	// "not ready": all() over the Ready conditions is false only when one is not True.
	tests[4].want = status.InProgressStatus
	for _, tt := range tests {
		res, err := ev.Evaluate(context.Background(), tt.u)
		if tt.wantErr {
			if err == nil {
				t.Errorf("%s: want error, got %v", tt.name, res.Status)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if res.Status != tt.want {
			t.Errorf("%s: status %s, want %s", tt.name, res.Status, tt.want)
		}
	}
	for _, bad := range []HealthCheckExpr{
		{APIVersion: "example.com/v1", Kind: "Widget"},
		{APIVersion: "example.com/v1", Kind: "Widget", Current: "status.x +"},
		{APIVersion: "example.com/v1", Kind: "Widget", Current: "'a string'"},
		{APIVersion: "", Kind: "Widget", Current: "true"},
		{APIVersion: "a/b/c", Kind: "Widget", Current: "true"},
		{APIVersion: "v1", Kind: "", Current: "true"},
		{APIVersion: "v1", Kind: "X", Current: "true", Failed: ")"},
	} {
		if _, err := CompileHealthCheck(bad); err == nil {
			t.Errorf("CompileHealthCheck(%+v): want error", bad)
		}
	}
}

func TestReadyExpr(t *testing.T) {
	self := obj("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "ns", "app")
	self.Object["spec"] = map[string]any{"path": "./apps"}
	dep := obj("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "ns", "infra")
	dep.Object["status"] = map[string]any{"lastAppliedRevision": "main@sha1:1"}
	tests := []struct {
		expr string
		want bool
	}{
		{"dep.status.lastAppliedRevision == 'main@sha1:1'", true},
		{"self.spec.path == './apps' && dep.metadata.name == 'infra'", true},
		{"dep.status.lastAppliedRevision.startsWith('tag')", false},
	}
	for _, tt := range tests {
		e, err := CompileReadyExpr(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Ready(context.Background(), self, dep)
		if err != nil || got != tt.want {
			t.Errorf("%s = %v, %v; want %v", tt.expr, got, err, tt.want)
		}
	}
	if _, err := CompileReadyExpr("  "); err == nil {
		t.Error("empty readyExpr accepted")
	}
	e, _ := CompileReadyExpr("dep.status.missing == 1")
	if _, err := e.Ready(context.Background(), self, dep); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing field: %v", err)
	}
}

func TestDefaultReady(t *testing.T) {
	mk := func(gen, og int64, st string) *unstructured.Unstructured {
		u := obj("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "ns", "d")
		u.SetGeneration(gen)
		u.Object["status"] = map[string]any{"observedGeneration": og, "conditions": []any{map[string]any{"type": "Ready", "status": st, "message": "m"}}}
		return u
	}
	if err := DefaultReady(mk(2, 2, "True")); err != nil {
		t.Errorf("ready: %v", err)
	}
	if err := DefaultReady(mk(2, 1, "True")); err == nil {
		t.Error("stale generation accepted")
	}
	if err := DefaultReady(mk(2, 2, "False")); err == nil {
		t.Error("Ready=False accepted")
	}
	if err := DefaultReady(obj("v1", "ConfigMap", "ns", "x")); err == nil {
		t.Error("no conditions accepted")
	}
}

func TestKubeConfigChecks(t *testing.T) {
	base := `apiVersion: v1
kind: Config
current-context: c
contexts:
- name: c
  context: {cluster: k, user: u}
clusters:
- name: k
  cluster: {server: "https://127.0.0.1:6443"%s}
users:
- name: u
  user: %s
`
	fill := func(cluster, user string) []byte {
		return []byte(strings.Replace(strings.Replace(base, "%s", cluster, 1), "%s", user, 1))
	}
	if _, err := RESTConfigFromKubeConfig(fill("", "{token: abc}"), KubeConfigOptions{}); err != nil {
		t.Errorf("plain kubeconfig: %v", err)
	}
	execUser := "{exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/true, interactiveMode: Never}}"
	if _, err := RESTConfigFromKubeConfig(fill("", execUser), KubeConfigOptions{}); !errors.Is(err, ErrExecNotAllowed) {
		t.Errorf("exec: %v", err)
	}
	if _, err := RESTConfigFromKubeConfig(fill("", execUser), KubeConfigOptions{AllowExec: true}); err != nil {
		t.Errorf("exec allowed: %v", err)
	}
	insecure := ", insecure-skip-tls-verify: true"
	if _, err := RESTConfigFromKubeConfig(fill(insecure, "{token: abc}"), KubeConfigOptions{}); !errors.Is(err, ErrInsecureNotAllowed) {
		t.Errorf("insecure: %v", err)
	}
	if _, err := RESTConfigFromKubeConfig(fill(insecure, "{token: abc}"), KubeConfigOptions{AllowInsecure: true}); err != nil {
		t.Errorf("insecure allowed: %v", err)
	}
	_, err := RESTConfigFromKubeConfig([]byte("{{{"), KubeConfigOptions{})
	if err == nil {
		t.Error("garbage accepted")
	}
	_, err = RESTConfigFromKubeConfig(fill("", "{token: s3cr3t-token}"), KubeConfigOptions{Context: "nope"})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("missing context: %v", err)
	}
}

func TestImpersonateServiceAccount(t *testing.T) {
	cfg := &rest.Config{Host: "https://example", BearerToken: "t"}
	got, err := ImpersonateServiceAccount(cfg, "apps", "deployer")
	if err != nil {
		t.Fatal(err)
	}
	if got.Impersonate.UserName != "system:serviceaccount:apps:deployer" || cfg.Impersonate.UserName != "" {
		t.Errorf("impersonation %q, original %q", got.Impersonate.UserName, cfg.Impersonate.UserName)
	}
	for _, bad := range [][2]string{{"", "x"}, {"ns", ""}, {"NS", "x"}, {"ns", "a:b"}} {
		if _, err := ImpersonateServiceAccount(cfg, bad[0], bad[1]); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestKubeConfigFromSecret(t *testing.T) {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "kc"}, Data: map[string][]byte{"value.yaml": []byte("b")}}
	if got, err := KubeConfigFromSecret(s, ""); err != nil || string(got) != "b" {
		t.Errorf("value.yaml: %q %v", got, err)
	}
	s.Data["value"] = []byte("a")
	if got, err := KubeConfigFromSecret(s, ""); err != nil || string(got) != "a" {
		t.Errorf("value first: %q %v", got, err)
	}
	if _, err := KubeConfigFromSecret(s, "other"); err == nil || !strings.Contains(err.Error(), "ns/kc") {
		t.Errorf("missing key: %v", err)
	}
}

func FuzzRESTConfigFromKubeConfig(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nclusters: [{name: k, cluster: {server: 'https://h'}}]\nusers: [{name: u, user: {token: t}}]\n"))
	f.Add([]byte("users: [{name: u, user: {exec: {command: x}}}]"))
	f.Add([]byte("{"))
	// File references, in every field that names one, used or not.
	for _, user := range []string{
		"tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token",
		"token: t, tokenFile: /etc/hostname",
		"client-certificate: /etc/hostname, client-key-data: eA==",
		"client-certificate-data: eA==, client-key: /etc/hostname",
		"auth-provider: {name: gcp}",
		"username: u, password: p",
	} {
		f.Add([]byte(kubeconfigYAML("https://h", "insecure-skip-tls-verify: false", user)))
	}
	f.Add([]byte(kubeconfigYAML("https://h", "certificate-authority: /etc/ssl/certs/ca-certificates.crt", "token: t")))
	f.Add([]byte(kubeconfigYAML("https://h", "proxy-url: 'socks5://p:1080'", "token: t")))
	f.Add([]byte("current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nclusters: [{name: k, cluster: {server: 'https://h'}}]\nusers: [{name: u, user: {token: t}}, {name: v, user: {tokenFile: /t}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := RESTConfigFromKubeConfig(data, KubeConfigOptions{})
		if err != nil {
			return
		}
		if cfg.ExecProvider != nil || cfg.AuthProvider != nil || cfg.Insecure {
			t.Fatalf("accepted a forbidden kubeconfig: %q", data)
		}
		if cfg.BearerTokenFile != "" || cfg.CertFile != "" || cfg.KeyFile != "" || cfg.CAFile != "" {
			t.Fatalf("accepted a kubeconfig referring to a file: %q", data)
		}
	})
}

func FuzzCompileExpression(f *testing.F) {
	f.Add("status.conditions.filter(c, c.type == 'Ready').all(c, c.status == 'True')")
	f.Add("status.?phase.orValue('') == 'x'")
	f.Add("[1,2,3].map(x, [x, x]).size() > 0")
	f.Fuzz(func(t *testing.T, src string) {
		e, err := CompileExpression(src, healthVars()...)
		if err != nil {
			return
		}
		vars := map[string]any{}
		for _, v := range healthVars() {
			vars[v] = map[string]any{"phase": "Ready", "conditions": []any{map[string]any{"type": "Ready", "status": "True"}}}
		}
		_, _ = e.Eval(context.Background(), vars)
	})
}

// FuzzHealthEvaluate evaluates health expressions against arbitrary
// objects, as they come from the cluster (JSON numbers as int64 or
// float64): evaluation never panics, not even inside the CEL runtime, and
// the cost limit, not the deadline, stops expensive expressions.
func FuzzHealthEvaluate(f *testing.F) {
	deployment := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","generation":2},
		"spec":{"replicas":3},"status":{"observedGeneration":2,"replicas":3,"readyReplicas":3,
		"conditions":[{"type":"Available","status":"True"},{"type":"Progressing","status":"True"}]}}`
	f.Add("status.conditions.filter(c, c.type == 'Available').all(c, c.status == 'True')", deployment)
	f.Add("status.readyReplicas == spec.replicas", deployment)
	f.Add("has(status.phase) && status.phase == 'Ready'", `{"status":{"phase":1.5}}`)
	f.Add("status.?x.orValue(0) > 2", `{"status":{"x":9223372036854775807}}`)
	f.Add("metadata.name.matches('^(a+)+$')", `{"metadata":{"name":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"}}`)
	f.Add("status.c.all(a, status.c.all(b, status.c.all(c, a + b + c != '')))",
		`{"status":{"c":["`+strings.Repeat(`x","`, 200)+`x"]}}`)
	f.Add("[1,2,3,4,5,6,7,8].map(a, [1,2,3,4,5,6,7,8].map(b, [1,2,3,4,5,6,7,8].map(c, [1,2,3,4,5,6,7,8].map(d, a*b*c*d)))).size() > 0", `{}`)
	f.Add("data.x.split('').size() > 0", `{"data":{"x":"`+strings.Repeat("ab", 4096)+`"}}`)
	f.Add("spec == status", `{"spec":{"a":[null,true,{"b":[]}]},"status":{"a":[null,true,{"b":[]}]}}`)
	f.Add("kind.lowerAscii() == 'pod' && apiVersion != ''", `{"kind":"Pod","apiVersion":"v1","metadata":{"generation":1},"status":{"observedGeneration":"1"}}`)
	f.Fuzz(func(t *testing.T, expr, obj string) {
		ev, err := CompileHealthCheck(HealthCheckExpr{APIVersion: "v1", Kind: "X", Current: expr, Failed: expr + " == false"})
		if err != nil {
			if ev, err = CompileHealthCheck(HealthCheckExpr{APIVersion: "v1", Kind: "X", Current: expr}); err != nil {
				return
			}
		}
		var content map[string]any
		if err := apimachineryjson.Unmarshal([]byte(obj), &content); err != nil || content == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := ev.Evaluate(ctx, &unstructured.Unstructured{Object: content})
		switch {
		case err != nil && strings.Contains(err.Error(), "evaluation failure"):
			t.Fatalf("the CEL runtime panicked on %q with %s: %v", expr, obj, err)
		case ctx.Err() != nil:
			t.Fatalf("only the deadline stopped %q on %s: %v", expr, obj, err)
		case err == nil && res == nil:
			t.Fatalf("no result and no error for %q", expr)
		}
	})
}

// Source-style conditions: Reconciling keeps a failure visible, Ready and
// NotReady take any reason, Set any type, and long messages are cut.
func TestConditionsSourceStyle(t *testing.T) {
	ignore := cmpopts.IgnoreFields(metav1.Condition{}, "LastTransitionTime")
	const gen = 2
	cond := func(typ string, st metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: st, Reason: reason, Message: msg, ObservedGeneration: gen}
	}
	tests := []struct {
		name  string
		start []metav1.Condition
		edit  func(c Conditions)
		want  []metav1.Condition
	}{
		{
			name: "Reconciling on a fresh object sets Ready Unknown",
			edit: func(c Conditions) { c.Reconciling(ProgressingReason, "new generation %d", 2) },
			want: []metav1.Condition{
				cond(ReconcilingCondition, metav1.ConditionTrue, ProgressingReason, "new generation 2"),
				cond(ReadyCondition, metav1.ConditionUnknown, ProgressingReason, "new generation 2"),
			},
		},
		{
			name:  "Reconciling keeps Ready False",
			start: []metav1.Condition{cond(ReadyCondition, metav1.ConditionFalse, "GitOperationFailed", "auth")},
			edit:  func(c Conditions) { c.Reconciling(ProgressingReason, "retrying") },
			want: []metav1.Condition{
				cond(ReadyCondition, metav1.ConditionFalse, "GitOperationFailed", "auth"),
				cond(ReconcilingCondition, metav1.ConditionTrue, ProgressingReason, "retrying"),
			},
		},
		{
			name: "Ready with an arbitrary reason clears Reconciling and Stalled",
			start: []metav1.Condition{
				cond(ReconcilingCondition, metav1.ConditionTrue, ProgressingReason, "x"),
				cond(StalledCondition, metav1.ConditionTrue, "InvalidURL", "x"),
			},
			edit: func(c Conditions) { c.Ready(SucceededReason, "stored artifact for revision '%s'", "main@sha1:1") },
			want: []metav1.Condition{cond(ReadyCondition, metav1.ConditionTrue, SucceededReason, "stored artifact for revision 'main@sha1:1'")},
		},
		{
			name: "Ready without a reason is ReconciliationSucceeded",
			edit: func(c Conditions) { c.Ready("", "done") },
			want: []metav1.Condition{cond(ReadyCondition, metav1.ConditionTrue, ReconciliationSucceededReason, "done")},
		},
		{
			name:  "NotReady leaves the others alone",
			start: []metav1.Condition{cond(ReconcilingCondition, metav1.ConditionTrue, ProgressingReason, "x")},
			edit:  func(c Conditions) { c.NotReady(ArtifactFailedReason, "Source '%s' not found", "GitRepository/x") },
			want: []metav1.Condition{
				cond(ReconcilingCondition, metav1.ConditionTrue, ProgressingReason, "x"),
				cond(ReadyCondition, metav1.ConditionFalse, ArtifactFailedReason, "Source 'GitRepository/x' not found"),
			},
		},
		{
			name: "Set any type",
			edit: func(c Conditions) { c.Set("ArtifactInStorage", metav1.ConditionTrue, SucceededReason, "stored") },
			want: []metav1.Condition{cond("ArtifactInStorage", metav1.ConditionTrue, SucceededReason, "stored")},
		},
		{
			name: "long messages are cut",
			edit: func(c Conditions) {
				c.Set(ReadyCondition, metav1.ConditionFalse, FailedReason, "%s", strings.Repeat("x", MaxMessageLength+10))
			},
			want: []metav1.Condition{cond(ReadyCondition, metav1.ConditionFalse, FailedReason, strings.Repeat("x", MaxMessageLength-3)+"...")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			list := append([]metav1.Condition(nil), tc.start...)
			tc.edit(Conditions{List: &list, Generation: gen})
			if diff := cmp.Diff(tc.want, list, ignore); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRevisionRule(t *testing.T) {
	ks := func(ns, srcKind, srcName, srcNS string, status map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
			"metadata": map[string]any{"name": "k", "namespace": ns},
			"spec":     map[string]any{"sourceRef": map[string]any{"kind": srcKind, "name": srcName, "namespace": srcNS}},
			"status":   status,
		}}
		return u
	}
	const rev = "main@sha1:2222222222222222222222222222222222222222"
	self := ks("apps", "GitRepository", "fleet", "", nil)
	applied := func(r string) map[string]any { return map[string]any{"lastAppliedRevision": r} }
	tests := []struct {
		name    string
		rule    RevisionRule
		dep     *unstructured.Unstructured
		wantErr string
	}{
		{"disabled", RevisionRule{}, ks("apps", "GitRepository", "fleet", "", applied("old")), ""},
		{"same source, applied", RevisionRule{Revision: rev}, ks("apps", "GitRepository", "fleet", "", applied(rev)), ""},
		{"same source, explicit namespace", RevisionRule{Revision: rev}, ks("apps", "GitRepository", "fleet", "apps", applied("main@sha1:1")), "status.lastAppliedRevision is main@sha1:1"},
		{"same source, nothing applied", RevisionRule{Revision: rev}, ks("apps", "GitRepository", "fleet", "", nil), "is empty"},
		{"legacy form", RevisionRule{Revision: rev}, ks("apps", "GitRepository", "fleet", "", applied("main/2222222222222222222222222222222222222222")), ""},
		{"other name", RevisionRule{Revision: rev}, ks("apps", "GitRepository", "other", "", applied("x")), ""},
		{"other kind", RevisionRule{Revision: rev}, ks("apps", "OCIRepository", "fleet", "", applied("x")), ""},
		{"dependency in another namespace reads its own fleet", RevisionRule{Revision: rev}, ks("infra", "GitRepository", "fleet", "", applied("x")), ""},
		{"dependency in another namespace reads ours", RevisionRule{Revision: rev}, ks("infra", "GitRepository", "fleet", "apps", applied("x")), "not applied"},
		{"attempted field", RevisionRule{Revision: rev, StatusField: "lastAttemptedRevision"},
			ks("apps", "GitRepository", "fleet", "", map[string]any{"lastAppliedRevision": "x", "lastAttemptedRevision": rev}), ""},
		{"custom SameSource", RevisionRule{Revision: rev, SameSource: func(_, _ *unstructured.Unstructured) bool { return true }},
			ks("apps", "Bucket", "b", "", applied("x")), "not applied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.rule.Check(self, tc.dep)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Check = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
	if SameSourceRef(ks("a", "GitRepository", "", "", nil), ks("a", "GitRepository", "", "", nil)) {
		t.Error("objects without a sourceRef name matched")
	}
}
