package helmrelease

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/examples/fluxscheme"
	"github.com/gitopskit/gitopskit/helmrelease"
)

// ErrChartNotReady reports a chart source without an artifact yet.
var ErrChartNotReady = errors.New("chart source is not ready")

// ChartMutateErrorReason is the Ready reason of a chart whose version
// cannot take its artifact's digest (ChartDigestVersion), as in Flux.
const ChartMutateErrorReason = "ChartMutateError"

// ErrExternalArtifactDisabled reports a spec.chartRef to an
// ExternalArtifact while Reconciler.AllowExternalArtifact is false (Flux's
// ExternalArtifact feature gate, off by default): the HelmRelease stalls
// with reason AccessDenied.
var ErrExternalArtifactDisabled = errors.New("ExternalArtifact chart references are disabled")

// HelmChartFor returns the HelmChart that spec.chart of obj asks for:
// "<namespace>-<name>" in the namespace of the chart's sourceRef (the
// HelmRelease's when it names none), with the template's labels,
// annotations and spec, as Flux's helm-controller creates it.
//
// Going beyond Flux (whose --watch-label-selector does not filter
// HelmCharts): the HelmRelease's shard label (fluxscheme.ShardKeyLabel,
// "sharding.fluxcd.io/key") is copied onto the HelmChart unless the
// template's labels set it, so that the chart of a sharded HelmRelease is
// reconciled by the same shard.
func HelmChartFor(obj *helmv2.HelmRelease) *sourcev1.HelmChart {
	t := obj.Spec.Chart
	hc := &sourcev1.HelmChart{ObjectMeta: metav1.ObjectMeta{Name: obj.GetHelmChartName(), Namespace: t.GetNamespace(obj.Namespace)}}
	if m := t.ObjectMeta; m != nil {
		hc.Labels, hc.Annotations = maps.Clone(m.Labels), maps.Clone(m.Annotations)
	}
	if shard, ok := obj.Labels[fluxscheme.ShardKeyLabel]; ok {
		if _, set := hc.Labels[fluxscheme.ShardKeyLabel]; !set {
			if hc.Labels == nil {
				hc.Labels = map[string]string{}
			}
			hc.Labels[fluxscheme.ShardKeyLabel] = shard
		}
	}
	hc.Spec = sourcev1.HelmChartSpec{
		Chart: t.Spec.Chart, Version: t.Spec.Version,
		SourceRef:                sourcev1.LocalHelmChartSourceReference{Kind: t.Spec.SourceRef.Kind, Name: t.Spec.SourceRef.Name, APIVersion: t.Spec.SourceRef.APIVersion},
		Interval:                 t.GetInterval(obj.Spec.Interval),
		ReconcileStrategy:        t.Spec.ReconcileStrategy,
		ValuesFiles:              t.Spec.ValuesFiles,
		IgnoreMissingValuesFiles: t.Spec.IgnoreMissingValuesFiles,
	}
	if v := t.Spec.Verify; v != nil {
		hc.Spec.Verify = &sourcev1.HelmChartVerification{Provider: v.Provider, SecretRef: v.SecretRef}
	}
	return hc
}

// ensureHelmChart creates or updates the HelmChart of spec.chart and
// records it in status.helmChart; a HelmChart of an earlier template (an
// other namespace) is deleted.
func (r *Reconciler) ensureHelmChart(ctx context.Context, obj *helmv2.HelmRelease) (*sourcev1.HelmChart, error) {
	want := HelmChartFor(obj)
	if ns, name := obj.Status.GetHelmChart(); name != "" && (ns != want.Namespace || name != want.Name) {
		old := &sourcev1.HelmChart{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		if err := r.Client.Delete(ctx, old); err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("failed to delete HelmChart '%s/%s': %w", ns, name, err)
		}
	}
	hc := &sourcev1.HelmChart{ObjectMeta: metav1.ObjectMeta{Namespace: want.Namespace, Name: want.Name}}
	if _, err := controllerutil.CreateOrPatch(ctx, r.Client, hc, func() error {
		hc.Labels, hc.Annotations, hc.Spec = want.Labels, want.Annotations, want.Spec
		return nil
	}); err != nil {
		return nil, fmt.Errorf("failed to create or update HelmChart '%s/%s': %w", want.Namespace, want.Name, err)
	}
	obj.Status.HelmChart = want.Namespace + "/" + want.Name
	return hc, nil
}

// deleteHelmChart deletes the HelmChart recorded in status.helmChart.
func (r *Reconciler) deleteHelmChart(ctx context.Context, obj *helmv2.HelmRelease) error {
	ns, name := obj.Status.GetHelmChart()
	if name == "" {
		return nil
	}
	hc := &sourcev1.HelmChart{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := r.Client.Delete(ctx, hc); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	obj.Status.HelmChart = ""
	return nil
}

// chartSource returns the source of the release's chart: the HelmChart of
// spec.chart (created when missing) or the OCIRepository, HelmChart or
// (with AllowExternalArtifact) ExternalArtifact of spec.chartRef.
func (r *Reconciler) chartSource(ctx context.Context, obj *helmv2.HelmRelease) (sourcev1.Source, error) {
	if obj.Spec.Chart != nil {
		return r.ensureHelmChart(ctx, obj)
	}
	ref := obj.Spec.ChartRef
	if ref == nil {
		return nil, errors.New("either spec.chart or spec.chartRef must be set")
	}
	if obj.Status.HelmChart != "" {
		if err := r.deleteHelmChart(ctx, obj); err != nil {
			return nil, err
		}
	}
	ns := ref.Namespace
	if ns == "" {
		ns = obj.Namespace
	}
	var src interface {
		client.Object
		sourcev1.Source
	}
	switch ref.Kind {
	case sourcev1.OCIRepositoryKind:
		src = &sourcev1.OCIRepository{}
	case sourcev1.HelmChartKind:
		src = &sourcev1.HelmChart{}
	case sourcev1.ExternalArtifactKind:
		if !r.AllowExternalArtifact {
			return nil, fmt.Errorf("%w: can't access '%s/%s/%s'", ErrExternalArtifactDisabled, ref.Kind, ns, ref.Name)
		}
		src = &sourcev1.ExternalArtifact{}
	default:
		return nil, fmt.Errorf("unsupported chartRef kind '%s'", ref.Kind)
	}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, src); err != nil {
		return nil, fmt.Errorf("could not get %s '%s/%s': %w", ref.Kind, ns, ref.Name, err)
	}
	return src, nil
}

// loadChart downloads the chart artifact of src, verifies its digest and
// loads it.
func (r *Reconciler) loadChart(ctx context.Context, src sourcev1.Source) (*helmrelease.Chart, error) {
	a := src.GetArtifact()
	if a == nil {
		return nil, ErrChartNotReady
	}
	dir, err := os.MkdirTemp(r.TempDir, "helmrelease-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	f := r.Fetcher
	if f == nil {
		f = &artifact.Fetcher{}
	}
	file := filepath.Join(dir, "chart.tgz")
	if err := f.Download(ctx, fluxadapter.Artifact(a), file); err != nil {
		return nil, fmt.Errorf("failed to download chart artifact: %w", err)
	}
	in, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	ch, err := helmrelease.LoadChart(in)
	if err != nil {
		return nil, fmt.Errorf("failed to load chart from artifact %s: %w", a.Revision, err)
	}
	return ch, nil
}

// ChartDigestVersion is Flux's chart digest tracking. For a chart of
// version from an OCIRepository, or from an ExternalArtifact whose
// artifact revision carries a digest ("<algorithm>:<hex>"), it returns
// version with the first 12 hex digits of the revision's digest as build
// metadata ("1.2.3" and "1.2.3@sha256:9933f58f8bf4..." give
// "1.2.3+9933f58f8bf4"; build metadata the chart version had is replaced),
// so that a chart pushed again under the same version is a new chart
// version and upgrades the release, and the digest, which
// status.lastAttemptedRevisionDigest records. Any other source gives
// version unchanged and no digest.
//
// As in Flux, a revision "<tag>@<digest>" whose tag is a semantic version
// (an OCI tag's "_" read as "+") must name the chart's version, build
// metadata aside, and a version that is not a semantic version or a
// revision without a digest of at least 12 hex digits is an error (the
// HelmRelease is not Ready, reason ChartMutateErrorReason). Flux records
// the whole revision as the digest when the tag is not a semantic version
// ("latest@sha256:..."); here the digest alone is recorded.
func ChartDigestVersion(src sourcev1.Source, version string) (tracked, digest string, err error) {
	a := src.GetArtifact()
	switch src.(type) {
	case *sourcev1.OCIRepository:
	case *sourcev1.ExternalArtifact:
		if a == nil || !strings.Contains(a.Revision, ":") {
			return version, "", nil
		}
	default:
		return version, "", nil
	}
	if a == nil {
		return version, "", nil
	}
	ver, err := semver.NewVersion(version)
	if err != nil {
		return "", "", fmt.Errorf("invalid chart version %s", version)
	}
	tag, digest, tagged := strings.Cut(a.Revision, "@")
	if !tagged {
		tag, digest = a.Revision, a.Revision
	}
	if tv, err := semver.NewVersion(strings.ReplaceAll(tag, "_", "+")); err == nil {
		if !tagged || !tv.Equal(ver) {
			return "", "", fmt.Errorf("artifact revision %s does not match chart version %s", tag, version)
		}
	}
	algo, hex, ok := strings.Cut(digest, ":")
	if !ok || algo == "" || strings.Contains(hex, ":") || len(hex) < 12 {
		return "", "", fmt.Errorf("invalid artifact revision %s", a.Revision)
	}
	withDigest, err := ver.SetMetadata(hex[:12])
	if err != nil {
		return "", "", fmt.Errorf("invalid artifact revision %s: %w", a.Revision, err)
	}
	return withDigest.String(), digest, nil
}
