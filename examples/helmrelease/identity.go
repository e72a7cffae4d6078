package helmrelease

import (
	"context"
	"errors"
	"fmt"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/helmrelease/cluster"
	"github.com/gitopskit/gitopskit/reconcile"
)

// releaseClient returns the Helm client of obj's release, with the
// identity reconcile picks: spec.kubeConfig's cluster, impersonating
// spec.serviceAccountName, or DefaultServiceAccount, or the controller.
func (r *Reconciler) releaseClient(ctx context.Context, obj *helmv2.HelmRelease) (*cluster.Client, error) {
	return r.clientFor(ctx, obj, obj.GetReleaseNamespace(), obj.GetStorageNamespace())
}

// clientFor is releaseClient for a release in namespace, stored in
// storageNamespace.
func (r *Reconciler) clientFor(ctx context.Context, obj *helmv2.HelmRelease, namespace, storageNamespace string) (*cluster.Client, error) {
	cfg, def := r.Config, r.DefaultServiceAccount
	if ref := obj.Spec.KubeConfig; ref != nil && ref.SecretRef != nil {
		var s corev1.Secret
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: ref.SecretRef.Name}, &s); err != nil {
			return nil, fmt.Errorf("could not read kubeconfig Secret '%s/%s': %w", obj.Namespace, ref.SecretRef.Name, err)
		}
		data, err := reconcile.KubeConfigFromSecret(&s, ref.SecretRef.Key)
		if err != nil {
			return nil, err
		}
		if cfg, err = reconcile.RESTConfigFromKubeConfig(data, r.KubeConfig); err != nil {
			return nil, err
		}
		def = ""
	}
	cfg, err := reconcile.ImpersonateFor(cfg, obj.Namespace, obj.Spec.ServiceAccountName, def)
	if err != nil {
		return nil, err
	}
	maxHistory := 0
	if m := obj.Spec.MaxHistory; m != nil {
		maxHistory = *m
		if maxHistory == 0 {
			maxHistory = -1
		}
	}
	r.validationOnce.Do(func() { r.validation = cluster.NewFieldValidation() })
	return cluster.New(ctx, cluster.Options{Config: cfg, Namespace: namespace, StorageNamespace: storageNamespace, MaxHistory: maxHistory,
		FieldValidation: r.validation, FreshClients: !obj.UsePersistentClient(),
		StorageBuffers: &r.storage, Discovery: &r.discovery})
}

// retarget uninstalls the release the history records when its storage
// namespace, namespace, name or chart name (unless
// spec.upgrade.chartNameChangeStrategy is InPlaceUpdate) differs from what
// obj asks for now, and clears the history, so that the release is
// installed anew, as Flux does.
func (r *Reconciler) retarget(ctx context.Context, obj *helmv2.HelmRelease, next helmrelease.Target) error {
	l := obj.Status.History.Latest()
	if l == nil {
		return nil
	}
	last := helmrelease.Target{StorageNamespace: obj.Status.StorageNamespace, Namespace: l.Namespace, ReleaseName: l.Name, ChartName: l.ChartName}
	inPlace := obj.GetUpgrade().GetChartNameChangeStrategy() == helmv2.ChartNameChangeStrategyInPlaceUpdate
	why, changed := helmrelease.TargetChanged(last, next, inPlace)
	if !changed {
		return nil
	}
	c, err := r.clientFor(ctx, obj, last.Namespace, last.StorageNamespace)
	if err != nil {
		return err
	}
	if _, err := c.Uninstall(ctx, last.ReleaseName, StepOptions(obj).Uninstall); err != nil && !errors.Is(err, cluster.ErrReleaseNotFound) {
		return fmt.Errorf("failed to uninstall release %s/%s after a change of %s: %w", last.StorageNamespace, last.ReleaseName, why, err)
	}
	r.event(obj, nil, corev1.EventTypeNormal, helmv2.UninstallSucceededReason,
		fmt.Sprintf("Helm uninstall succeeded for release %s/%s: %s changed", last.StorageNamespace, last.ReleaseName, why))
	obj.Status.ClearHistory()
	obj.Status.ClearFailures()
	return nil
}
