package helmrelease

import (
	"context"
	"fmt"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/helmrelease/cluster"
	"github.com/gitopskit/gitopskit/reconcile"
)

// drift compares an in-sync release with the cluster when
// spec.driftDetection.mode is warn or enabled, sets the Drifted condition
// and returns StatusDrifted when objects differ, with the Manager that
// corrects them in opts. Other statuses and the disabled mode are returned
// as they are, and the Drifted condition is removed.
func (r *Reconciler) drift(ctx context.Context, obj *helmv2.HelmRelease, c *cluster.Client, rel *cluster.Release, st helmrelease.ReleaseStatus, opts *cluster.StepOptions) (helmrelease.ReleaseStatus, error) {
	cond := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	dd := obj.GetDriftDetection()
	if dd.GetMode() == helmv2.DriftDetectionDisabled {
		cond.Delete(helmv2.DriftedCondition)
		return st, nil
	}
	if st != helmrelease.StatusInSync || rel == nil {
		return st, nil
	}
	m, err := r.driftManager(ctx, obj, dd)
	if err != nil {
		return st, err
	}
	report, err := c.Drift(ctx, rel, m)
	if err != nil {
		return st, fmt.Errorf("failed to diff release %s with the cluster: %w", rel.Name, err)
	}
	if !report.Drifted() {
		cond.Set(helmv2.DriftedCondition, metav1.ConditionFalse, helmv2.NoDriftDetectedReason, "No drift detected for release %s/%s.v%d", obj.GetStorageNamespace(), rel.Name, rel.Revision)
		return st, nil
	}
	msg := fmt.Sprintf("Cluster state of release %s/%s.v%d has drifted from the desired state:\n%s", obj.GetStorageNamespace(), rel.Name, rel.Revision, report.Summary())
	cond.Set(helmv2.DriftedCondition, metav1.ConditionTrue, helmv2.DriftDetectedReason, "%s", msg)
	r.event(obj, rel, corev1.EventTypeWarning, helmv2.DriftDetectedReason, msg)
	opts.Drift = m
	return helmrelease.StatusDrifted, nil
}

// driftManager returns the Manager that diffs and corrects the release's
// objects: the release's identity, Helm's field manager, and
// spec.driftDetection.ignore as ignore rules.
func (r *Reconciler) driftManager(ctx context.Context, obj *helmv2.HelmRelease, dd helmv2.DriftDetection) (*reconcile.Manager, error) {
	r.clientsOnce.Do(func() {
		r.clients = &reconcile.Clients{Config: r.Config, Reader: r.Client, Scheme: r.Client.Scheme(),
			DefaultServiceAccount: r.DefaultServiceAccount, KubeConfig: r.KubeConfig}
	})
	var kc *reconcile.KubeConfigRef
	if ref := obj.Spec.KubeConfig; ref != nil && ref.SecretRef != nil {
		kc = &reconcile.KubeConfigRef{SecretName: ref.SecretRef.Name, Key: ref.SecretRef.Key}
	}
	cl, err := r.clients.For(ctx, obj.Namespace, obj.Spec.ServiceAccountName, kc)
	if err != nil {
		return nil, err
	}
	opts := reconcile.Options{FieldManager: cluster.HelmFieldManager()}
	for _, ig := range dd.Ignore {
		rule := reconcile.IgnoreRule{Paths: append([]string(nil), ig.Paths...)}
		if t := ig.Target; t != nil {
			rule.Target = &reconcile.Selector{Group: t.Group, Version: t.Version, Kind: t.Kind, Name: t.Name,
				Namespace: t.Namespace, LabelSelector: t.LabelSelector, AnnotationSelector: t.AnnotationSelector}
		}
		opts.IgnoreRules = append(opts.IgnoreRules, rule)
	}
	return reconcile.NewManager(cl, opts)
}
