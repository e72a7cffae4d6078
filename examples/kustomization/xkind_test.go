package kustomization_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/helmrelease"
	"github.com/gitopskit/gitopskit/examples/kustomization"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
)

func TestXKindParseDependsOn(t *testing.T) {
	got, err := reconcile.ParseDependsOn(" HelmRelease/infra , Kustomization/platform/crds,HelmRelease/a.b-c ")
	if err != nil {
		t.Fatal(err)
	}
	want := []reconcile.Dependency{
		{Kind: "HelmRelease", Ref: reconcile.UnitRef{Name: "infra"}},
		{Kind: "Kustomization", Ref: reconcile.UnitRef{Namespace: "platform", Name: "crds"}},
		{Kind: "HelmRelease", Ref: reconcile.UnitRef{Name: "a.b-c"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if got, err := reconcile.ParseDependsOn("  "); err != nil || got != nil {
		t.Errorf("empty value: %v, %v", got, err)
	}
	for value, names := range map[string]string{
		"Secret/x":                 `"Secret/x"`,
		"HelmRelease/infra,":       "entry 2",
		"HelmRelease":              `"HelmRelease"`,
		"HelmRelease/a/b/c":        `"HelmRelease/a/b/c"`,
		"Kustomization/Bad_Name":   "invalid name",
		"Kustomization/NS/x":       "invalid namespace",
		"helmrelease/infra":        "unknown kind",
		"Kustomization/infra,,x/y": "entry 2",
	} {
		_, err := reconcile.ParseDependsOn(value)
		if err == nil || !strings.Contains(err.Error(), names) || !strings.Contains(err.Error(), reconcile.DependsOnAnnotation) {
			t.Errorf("%q: error %v should name %s and the annotation", value, err, names)
		}
	}
}

func TestXKindCheckNamespaceRefs(t *testing.T) {
	k := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "apps", Namespace: "team",
		Annotations: map[string]string{reconcile.DependsOnAnnotation: "HelmRelease/infra,HelmRelease/platform/ingress"}}}
	err := kustomization.CheckNamespaceRefs(k)
	if !errors.Is(err, reconcile.ErrAccessDenied) || !strings.Contains(err.Error(), "HelmRelease/ingress") || strings.Contains(err.Error(), "infra") {
		t.Errorf("Kustomization: %v", err)
	}
	hr := &helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "team",
		Annotations: map[string]string{reconcile.DependsOnAnnotation: "Kustomization/team/infra,Kustomization/platform/crds"}}}
	err = helmrelease.CheckNamespaceRefs(hr)
	if !errors.Is(err, reconcile.ErrAccessDenied) || !strings.Contains(err.Error(), "Kustomization/crds") || strings.Contains(err.Error(), "infra") {
		t.Errorf("HelmRelease: %v", err)
	}
	hr.Annotations[reconcile.DependsOnAnnotation] = "Kustomization/team/infra"
	if err := helmrelease.CheckNamespaceRefs(hr); err != nil {
		t.Errorf("same namespace refused: %v", err)
	}
}

// xkindChart serves a chart of one ConfigMap and creates a HelmRepository
// "charts" for it in ns.
func xkindChart(t *testing.T, ns string) {
	t.Helper()
	srv := helmtest.New(t)
	if _, err := srv.AddChart(map[string]string{
		"Chart.yaml":        "apiVersion: v2\nname: cm\nversion: 0.1.0\n",
		"values.yaml":       "data: chart\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  value: {{ .Values.data | quote }}\n",
	}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(context.Background(), &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "charts", Namespace: ns},
		Spec:       sourcev1.HelmRepositorySpec{URL: srv.URL, Interval: metav1.Duration{Duration: time.Hour}},
	}); err != nil {
		t.Fatal(err)
	}
}

func xkindRelease(ns, name, dependsOn string) *helmv2.HelmRelease {
	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: time.Hour},
			Timeout:  &metav1.Duration{Duration: 90 * time.Second},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart: "cm", Version: "0.1.0",
				SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
			}},
		},
	}
	if dependsOn != "" {
		hr.Annotations = map[string]string{reconcile.DependsOnAnnotation: dependsOn}
	}
	return hr
}

// xkindWaitRelease waits until the HelmRelease's Ready condition has
// status and reason at its generation, and returns it.
func xkindWaitRelease(t *testing.T, ns, name string, status metav1.ConditionStatus, reason string) *helmv2.HelmRelease {
	t.Helper()
	var hr helmv2.HelmRelease
	poll(t, 90*time.Second, "HelmRelease "+name+" Ready="+string(status)+"/"+reason, func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &hr); err != nil {
			return false, err
		}
		c := apimeta.FindStatusCondition(hr.Status.Conditions, meta.ReadyCondition)
		return c != nil && c.Status == status && c.Reason == reason && c.ObservedGeneration == hr.Generation, nil
	})
	return &hr
}

func readySince(t *testing.T, conds []metav1.Condition) metav1.Time {
	t.Helper()
	c := apimeta.FindStatusCondition(conds, meta.ReadyCondition)
	if c == nil {
		t.Fatal("no Ready condition")
	}
	return c.LastTransitionTime
}

// A Kustomization annotated with a HelmRelease dependency waits for it,
// then applies once the release is Ready.
func TestXKindKustomizationWaitsForHelmRelease(t *testing.T) {
	ctx := context.Background()
	const ns = "xkind-ks"
	f := newFleet(t, ns, map[string]string{"apps/app.yaml": configMap("app", "k: v\n")})
	rev := f.get0()
	xkindChart(t, ns)
	f.kustomization("apps", "./apps", func(k *kustomizev1.Kustomization) {
		k.Annotations = map[string]string{reconcile.DependsOnAnnotation: "HelmRelease/infra"}
	})
	c := f.waitReady("apps", metav1.ConditionFalse, meta.DependencyNotReadyReason)
	if !strings.Contains(c.Message, ns+"/infra") || !strings.Contains(c.Message, "HelmRelease") {
		t.Errorf("DependencyNotReady message should name HelmRelease %s/infra: %q", ns, c.Message)
	}
	if k := f.get("apps"); k.Status.Inventory != nil && len(k.Status.Inventory.Entries) > 0 {
		t.Errorf("apps applied before its dependency: %v", k.Status.Inventory.Entries)
	}
	if err := env.Client.Create(ctx, xkindRelease(ns, "infra", "")); err != nil {
		t.Fatal(err)
	}
	infra := xkindWaitRelease(t, ns, "infra", metav1.ConditionTrue, helmv2.InstallSucceededReason)
	apps := f.waitApplied("apps", rev)
	if ti, ta := readySince(t, infra.Status.Conditions), readySince(t, apps.Status.Conditions); ta.Before(&ti) {
		t.Errorf("apps became Ready at %v, before infra at %v", ta, ti)
	}
	var cm corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, &cm); err != nil {
		t.Fatal(err)
	}
}

// A HelmRelease annotated with a Kustomization dependency waits for it,
// then installs once the Kustomization is Ready.
func TestXKindHelmReleaseWaitsForKustomization(t *testing.T) {
	ctx := context.Background()
	const ns = "xkind-hr"
	f := newFleet(t, ns, map[string]string{"infra/infra.yaml": configMap("infra", "k: v\n")})
	rev := f.get0()
	xkindChart(t, ns)
	if err := env.Client.Create(ctx, xkindRelease(ns, "app", "Kustomization/"+ns+"/infra")); err != nil {
		t.Fatal(err)
	}
	hr := xkindWaitRelease(t, ns, "app", metav1.ConditionFalse, helmv2.DependencyNotReadyReason)
	if c := apimeta.FindStatusCondition(hr.Status.Conditions, meta.ReadyCondition); !strings.Contains(c.Message, "Kustomization") || !strings.Contains(c.Message, ns+"/infra") {
		t.Errorf("DependencyNotReady message should name Kustomization %s/infra: %q", ns, c.Message)
	}
	if hr.Status.History.Latest() != nil {
		t.Fatalf("installed before its dependency: %+v", hr.Status.History)
	}
	f.kustomization("infra", "./infra", nil)
	infra := f.waitApplied("infra", rev)
	hr = xkindWaitRelease(t, ns, "app", metav1.ConditionTrue, helmv2.InstallSucceededReason)
	if ti, th := readySince(t, infra.Status.Conditions), readySince(t, hr.Status.Conditions); th.Before(&ti) {
		t.Errorf("app became Ready at %v, before infra at %v", th, ti)
	}
	var cm corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app-cm"}, &cm); err != nil {
		t.Fatal(err)
	}
}

// A malformed annotation stalls either kind with a message naming the
// entry; a corrected annotation lets the object proceed.
func TestXKindMalformedDependsOn(t *testing.T) {
	ctx := context.Background()
	const ns = "xkind-bad"
	f := newFleet(t, ns, map[string]string{"apps/app.yaml": configMap("app", "k: v\n")})
	rev := f.get0()
	xkindChart(t, ns)
	f.kustomization("apps", "./apps", func(k *kustomizev1.Kustomization) {
		k.Annotations = map[string]string{reconcile.DependsOnAnnotation: "HelmRelease/infra,Secret/creds"}
	})
	if err := env.Client.Create(ctx, xkindRelease(ns, "app", "Kustomization/apps,HelmRelease/Bad_Name")); err != nil {
		t.Fatal(err)
	}
	c := f.waitReady("apps", metav1.ConditionFalse, reconcile.InvalidDependsOnReason)
	if !strings.Contains(c.Message, `"Secret/creds"`) || !strings.Contains(c.Message, "unknown kind") {
		t.Errorf("Kustomization message should name the entry: %q", c.Message)
	}
	hr := xkindWaitRelease(t, ns, "app", metav1.ConditionFalse, reconcile.InvalidDependsOnReason)
	if c := apimeta.FindStatusCondition(hr.Status.Conditions, meta.ReadyCondition); !strings.Contains(c.Message, `"HelmRelease/Bad_Name"`) {
		t.Errorf("HelmRelease message should name the entry: %q", c.Message)
	}
	for _, obj := range []client.Object{f.get("apps"), hr} {
		var conds []metav1.Condition
		switch o := obj.(type) {
		case *kustomizev1.Kustomization:
			conds = o.Status.Conditions
		case *helmv2.HelmRelease:
			conds = o.Status.Conditions
		}
		if !apimeta.IsStatusConditionTrue(conds, meta.StalledCondition) {
			t.Errorf("%s not Stalled: %+v", obj.GetName(), conds)
		}
	}
	// Corrected: the release depends on the Kustomization, which depends on
	// nothing; both become Ready.
	k := f.get("apps")
	kb := k.DeepCopy()
	k.Annotations[reconcile.DependsOnAnnotation] = ""
	if err := env.Client.Patch(ctx, k, client.MergeFrom(kb)); err != nil {
		t.Fatal(err)
	}
	hb := hr.DeepCopy()
	hr.Annotations[reconcile.DependsOnAnnotation] = "Kustomization/apps"
	if err := env.Client.Patch(ctx, hr, client.MergeFrom(hb)); err != nil {
		t.Fatal(err)
	}
	f.waitApplied("apps", rev)
	xkindWaitRelease(t, ns, "app", metav1.ConditionTrue, helmv2.InstallSucceededReason)
}
