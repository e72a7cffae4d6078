package helmrelease

import (
	"context"
	"fmt"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/helmrelease/cluster"
	"github.com/gitopskit/gitopskit/reconcile"
)

// releaseClient returns the Helm client of obj's release, with the
// identity reconcile picks: spec.kubeConfig's cluster, impersonating
// spec.serviceAccountName, or DefaultServiceAccount, or the controller.
func (r *Reconciler) releaseClient(ctx context.Context, obj *helmv2.HelmRelease) (*cluster.Client, error) {
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
	return cluster.New(ctx, cluster.Options{Config: cfg, Namespace: obj.GetReleaseNamespace(),
		StorageNamespace: obj.GetStorageNamespace(), MaxHistory: maxHistory})
}
