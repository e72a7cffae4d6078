package helmrelease

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/helmrelease/cluster"
	"github.com/gitopskit/gitopskit/kustomize"
)

// StepOptions maps spec.install, spec.upgrade, spec.test, spec.rollback and
// spec.uninstall of a HelmRelease to the options of the release actions,
// with Flux's defaults: spec.timeout for every action that sets none, CRDs
// created on install and skipped on upgrade, server-side apply unless
// disabled, the post-renderers of FluxPostRenderers with
// spec.postRenderStrategy, and spec.waitStrategy with
// spec.healthCheckExprs.
func StepOptions(obj *helmv2.HelmRelease) cluster.StepOptions {
	def := obj.GetTimeout()
	in, up, ts, rb, un := obj.GetInstall(), obj.GetUpgrade(), obj.GetTest(), obj.GetRollback(), obj.GetUninstall()
	post := PostRenderers(obj)
	installCRDs, upgradeCRDs := cluster.CRDsCreate, cluster.CRDsSkip
	if in.CRDs != "" {
		installCRDs = cluster.CRDPolicy(in.CRDs)
	} else if in.SkipCRDs {
		installCRDs = cluster.CRDsSkip
	}
	if up.CRDs != "" {
		upgradeCRDs = cluster.CRDPolicy(up.CRDs)
	}
	opts := cluster.StepOptions{
		Install: cluster.InstallOptions{
			Timeout: in.GetTimeout(def).Duration, CRDs: installCRDs, CreateNamespace: in.CreateNamespace,
			DisableHooks: in.DisableHooks, Wait: cluster.Wait{Disable: in.DisableWait, DisableForJobs: in.DisableWaitForJobs},
			Replace: in.Replace, ClientSideApply: in.ServerSideApply != nil && !*in.ServerSideApply,
			PostRenderers: post, PostRenderStrategy: string(obj.Spec.PostRenderStrategy),
		},
		Upgrade: cluster.UpgradeOptions{
			Timeout: up.GetTimeout(def).Duration, CRDs: upgradeCRDs, DisableHooks: up.DisableHooks,
			Wait:  cluster.Wait{Disable: up.DisableWait, DisableForJobs: up.DisableWaitForJobs},
			Force: up.Force, CleanupOnFail: up.CleanupOnFail,
			ClientSideApply: up.ServerSideApply == helmv2.ServerSideApplyDisabled, PostRenderers: post,
			PostRenderStrategy: string(obj.Spec.PostRenderStrategy),
		},
		Test: cluster.TestOptions{Timeout: ts.GetTimeout(def).Duration},
		Rollback: cluster.RollbackOptions{
			Timeout: rb.GetTimeout(def).Duration, DisableHooks: rb.DisableHooks,
			Wait:  cluster.Wait{Disable: rb.DisableWait, DisableForJobs: rb.DisableWaitForJobs},
			Force: rb.Force, CleanupOnFail: rb.CleanupOnFail,
		},
		Uninstall: cluster.UninstallOptions{
			Timeout: un.GetTimeout(def).Duration, KeepHistory: un.KeepHistory, DisableHooks: un.DisableHooks,
			Wait: cluster.Wait{Disable: un.DisableWait}, DeletionPropagation: un.GetDeletionPropagation(),
		},
	}
	for _, f := range ts.GetFilters() {
		key := "name"
		if f.Exclude {
			key = "!name"
		}
		if opts.Test.Filters == nil {
			opts.Test.Filters = map[string][]string{}
		}
		opts.Test.Filters[key] = append(opts.Test.Filters[key], f.Name)
	}
	withWaitStrategy(obj, &opts)
	return opts
}

// PostRenderers returns Flux's post-renderers of a HelmRelease:
// spec.postRenderers (Kustomize patches and images), spec.commonMetadata,
// then the labels naming the HelmRelease.
func PostRenderers(obj *helmv2.HelmRelease) []helmrelease.PostRenderer {
	var ks []helmrelease.Kustomize
	for _, pr := range obj.Spec.PostRenderers {
		if pr.Kustomize == nil {
			continue
		}
		var k helmrelease.Kustomize
		for _, p := range pr.Kustomize.Patches {
			kp := kustomize.Patch{Patch: p.Patch}
			if t := p.Target; t != nil {
				kp.Target = &kustomize.Selector{Group: t.Group, Version: t.Version, Kind: t.Kind, Name: t.Name,
					Namespace: t.Namespace, LabelSelector: t.LabelSelector, AnnotationSelector: t.AnnotationSelector}
			}
			k.Patches = append(k.Patches, kp)
		}
		for _, img := range pr.Kustomize.Images {
			k.Images = append(k.Images, kustomize.Image{Name: img.Name, NewName: img.NewName, NewTag: img.NewTag, Digest: img.Digest})
		}
		ks = append(ks, k)
	}
	var common *helmrelease.CommonMetadata
	if cm := obj.Spec.CommonMetadata; cm != nil {
		common = &helmrelease.CommonMetadata{Labels: cm.Labels, Annotations: cm.Annotations}
	}
	return helmrelease.FluxPostRenderers(obj.Namespace, obj.Name, ks, common)
}

// PostRenderersDigest is the status.observedPostRenderersDigest of obj:
// "sha256:<hex>" of spec.postRenderers and spec.commonMetadata as JSON
// ("" when neither is set), so that a change of either upgrades the
// release.
func PostRenderersDigest(obj *helmv2.HelmRelease) string {
	if len(obj.Spec.PostRenderers) == 0 && obj.Spec.CommonMetadata == nil {
		return ""
	}
	b, _ := json.Marshal([]any{obj.Spec.PostRenderers, obj.Spec.CommonMetadata})
	return fmt.Sprintf("sha256:%x", sha256.Sum256(b))
}

// Observation maps what NextAction decides on from obj: the remediation
// settings of spec.install and spec.upgrade, status's failure counters and
// last attempted action, the drift mode, and force when a forceAt token is
// pending.
func Observation(obj *helmv2.HelmRelease, status helmrelease.ReleaseStatus, force bool) helmrelease.Observation {
	in, up := obj.GetInstall(), obj.GetUpgrade()
	inr, upr := in.GetRemediation(), up.GetRemediation()
	o := helmrelease.Observation{
		Status:          status,
		LastAction:      helmrelease.Action(obj.Status.LastAttemptedReleaseAction),
		InstallFailures: obj.Status.InstallFailures,
		UpgradeFailures: obj.Status.UpgradeFailures,
		Install:         remediation(inr, obj.Spec.Install != nil && obj.Spec.Install.Remediation != nil && obj.Spec.Install.Remediation.RemediateLastFailure != nil),
		Upgrade:         remediation(upr, obj.Spec.Upgrade != nil && obj.Spec.Upgrade.Remediation != nil && obj.Spec.Upgrade.Remediation.RemediateLastFailure != nil),
		Force:           force,
		DriftMode:       string(obj.GetDriftDetection().GetMode()),
	}
	if r := obj.GetActiveRetry(false); r != nil {
		o.RetryOnFailure = true
	}
	return o
}

func remediation(r helmv2.Remediation, lastSet bool) helmrelease.Remediation {
	out := helmrelease.Remediation{Retries: r.GetRetries(), Strategy: string(r.GetStrategy())}
	if lastSet {
		v := r.MustRemediateLastFailure()
		out.RemediateLastFailure = &v
	}
	return out
}

// IgnoreTestFailures is the effective ignore setting of test failures:
// the active remediation's ignoreTestFailures, else spec.test.ignoreFailures.
func IgnoreTestFailures(obj *helmv2.HelmRelease) bool {
	def := obj.GetTest().IgnoreFailures
	if r := obj.GetActiveRemediation(); r != nil {
		return r.MustIgnoreTestFailures(def)
	}
	return def
}

// Snapshot returns the status.history entry of a release revision, with
// its test hooks when they ran.
func Snapshot(rel *cluster.Release, action helmv2.ReleaseAction) *helmv2.Snapshot {
	s := &helmv2.Snapshot{
		APIVersion: "v2", Name: rel.Name, Namespace: rel.Namespace, Version: rel.Revision, Status: rel.Status,
		Action: action, ChartName: rel.ChartName, ChartVersion: rel.ChartVersion, AppVersion: rel.AppVersion,
		ConfigDigest: rel.ValuesDigest, FirstDeployed: metav1.NewTime(rel.FirstDeployed),
		LastDeployed: metav1.NewTime(rel.LastDeployed), Deleted: metav1.NewTime(rel.Deleted),
		Digest: fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(fmt.Sprintf("%s/%s.v%d\n%s\n%s\n%s", rel.Namespace, rel.Name, rel.Revision, rel.Status, rel.ValuesDigest, rel.Manifest)))),
	}
	if rel.Tested() {
		hooks := map[string]*helmv2.TestHookStatus{}
		for _, t := range rel.Tests {
			hooks[t.Name] = &helmv2.TestHookStatus{LastStarted: metav1.NewTime(t.StartedAt), LastCompleted: metav1.NewTime(t.CompletedAt), Phase: t.Phase}
		}
		s.TestHooks = &hooks
	}
	return s
}

// valuesGetter reads the ConfigMaps and Secrets of spec.valuesFrom in the
// HelmRelease's namespace.
type valuesGetter struct {
	reader    client.Reader
	namespace string
}

func (g valuesGetter) GetValuesData(ctx context.Context, kind, name string) (map[string][]byte, error) {
	key := client.ObjectKey{Namespace: g.namespace, Name: name}
	switch kind {
	case helmrelease.KindConfigMap:
		var cm corev1.ConfigMap
		if err := g.reader.Get(ctx, key, &cm); err != nil {
			return nil, notFound(err, kind, key)
		}
		out := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
		for k, v := range cm.Data {
			out[k] = []byte(v)
		}
		for k, v := range cm.BinaryData {
			out[k] = v
		}
		return out, nil
	case helmrelease.KindSecret:
		var s corev1.Secret
		if err := g.reader.Get(ctx, key, &s); err != nil {
			return nil, notFound(err, kind, key)
		}
		return s.Data, nil
	}
	return nil, fmt.Errorf("%s '%s': %w", kind, key, helmrelease.ErrUnsupportedKind)
}

func notFound(err error, kind string, key client.ObjectKey) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("could not find %s '%s': %w", kind, key, helmrelease.ErrNotFound)
	}
	return fmt.Errorf("could not read %s '%s': %w", kind, key, err)
}
