package helmrelease_test

import (
	"context"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/gitrepository"
	"github.com/gitopskit/gitopskit/examples/helmrelease"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/examples/kustomization"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source/git/gittest"
)

// With an hour between dependency checks, only the watches of the other
// kind can release a waiting dependent: a HelmRelease waiting for a
// Kustomization and a Kustomization waiting for a HelmRelease both
// proceed once their dependency is Ready.
func TestHelmReleaseXKindWatch(t *testing.T) {
	startControllers(t, func(r *helmrelease.Reconciler) { r.DependencyRequeueInterval = time.Hour })
	sourcetest.Start(t, env, func(_ context.Context, mgr ctrl.Manager, store *artifact.Store) error {
		r := &gitrepository.Reconciler{Store: store, TempDir: t.TempDir()}
		return r.SetupWithManager(mgr, gitrepository.Options{MaxConcurrentReconciles: 2, SkipNameValidation: true})
	}, func(ctx context.Context, mgr ctrl.Manager, _ *artifact.Store) error {
		r := &kustomization.Reconciler{TempDir: t.TempDir(), DependencyRequeueInterval: time.Hour}
		return r.SetupWithManager(ctx, mgr, kustomization.Options{MaxConcurrentReconciles: 2, SkipNameValidation: true})
	})
	ns := "hr-xkind-watch"
	sourcetest.Namespace(t, env, ns)
	valuesChart(t, ns)
	repo := gittest.NewHTTPServer(t).NewRepo(t, "fleet")
	head := repo.Commit("initial", map[string]string{
		"infra/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: infra\ndata:\n  k: v\n",
		"apps/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: apps\ndata:\n  k: v\n",
	})
	create(t, &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: ns},
		Spec: sourcev1.GitRepositorySpec{URL: repo.URL, Interval: metav1.Duration{Duration: time.Hour},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"}},
	})
	ks := func(name string, dependsOn string) *kustomizev1.Kustomization {
		k := &kustomizev1.Kustomization{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: kustomizev1.KustomizationSpec{
				Interval: metav1.Duration{Duration: time.Hour}, Path: "./" + name, Prune: true, TargetNamespace: ns,
				SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"},
			},
		}
		if dependsOn != "" {
			k.Annotations = map[string]string{reconcile.DependsOnAnnotation: dependsOn}
		}
		return k
	}
	ksReady := func(k *kustomizev1.Kustomization) bool {
		return reconcile.IsReady(k.Status.Conditions, k.Generation) && k.Status.LastAppliedRevision == "main@sha1:"+head
	}
	ksWaiting := func(k *kustomizev1.Kustomization) bool {
		c := reconcileCondition(k.Status.Conditions)
		return c != nil && c.Reason == reconcile.DependencyNotReadyReason && c.ObservedGeneration == k.Generation
	}

	// A HelmRelease waiting for a Kustomization.
	app := valuesRelease(ns, "app", map[string]string{reconcile.DependsOnAnnotation: "Kustomization/infra"})
	create(t, app)
	waitFor(t, app, time.Minute, "app waiting", condition("Ready", metav1.ConditionFalse, helmv2.DependencyNotReadyReason))
	infra := ks("infra", "")
	create(t, infra)
	waitFor(t, infra, time.Minute, "infra applied", ksReady)
	waitFor(t, app, releaseWait, "app installed once infra is Ready", ready(helmv2.InstallSucceededReason, 1))

	// A Kustomization waiting for a HelmRelease.
	apps := ks("apps", "HelmRelease/backend")
	create(t, apps)
	waitFor(t, apps, time.Minute, "apps waiting", ksWaiting)
	backend := valuesRelease(ns, "backend", nil)
	create(t, backend)
	waitFor(t, backend, releaseWait, "backend installed", ready(helmv2.InstallSucceededReason, 1))
	waitFor(t, apps, time.Minute, "apps applied once backend is Ready", ksReady)
}

func reconcileCondition(conds []metav1.Condition) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == reconcile.ReadyCondition {
			return &conds[i]
		}
	}
	return nil
}
