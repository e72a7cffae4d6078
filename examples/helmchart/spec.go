package helmchart

import (
	"errors"
	"fmt"
	"strings"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"

	"github.com/gitopskit/gitopskit/source/helm"
)

// ErrNotSupported reports a spec field whose feature this controller does
// not implement yet; the object is Stalled until the field changes.
var ErrNotSupported = errors.New("not supported yet")

// Unsupported returns an error wrapping ErrNotSupported when spec asks for
// something this controller does not do: signature verification other
// than cosign (spec.verify with the notation provider).
func Unsupported(spec sourcev1.HelmChartSpec) error {
	if v := spec.Verify; v != nil && v.Provider != "cosign" {
		return fmt.Errorf("spec.verify provider '%s' is %w: use 'cosign'", v.Provider, ErrNotSupported)
	}
	return nil
}

// Strategy returns spec.reconcileStrategy with Flux's default,
// ChartVersion.
func Strategy(spec sourcev1.HelmChartSpec) helm.ReconcileStrategy {
	if spec.ReconcileStrategy == sourcev1.ReconcileStrategyRevision {
		return helm.StrategyRevision
	}
	return helm.StrategyChartVersion
}

// VersionMetadata returns the build metadata Flux gives the chart version
// of obj built from a source at sourceRevision ("" for a chart from a
// HelmRepository): the source revision's first 12 hex digits with the
// Revision strategy, the generation when values files are given.
func VersionMetadata(obj *sourcev1.HelmChart, sourceRevision string) string {
	strategy := Strategy(obj.Spec)
	if obj.Spec.SourceRef.Kind == sourcev1.HelmRepositoryKind {
		strategy, sourceRevision = helm.StrategyChartVersion, ""
	}
	return helm.VersionMetadata(strategy, sourceRevision, len(obj.Spec.ValuesFiles) > 0, obj.Generation)
}

// Packaged reports whether a chart of obj is packaged by this controller
// (Flux's ChartPackageSucceeded) rather than stored as it was pulled
// (ChartPullSucceeded): built from a directory, or a pulled chart given
// values files or version metadata.
func Packaged(obj *sourcev1.HelmChart, versionMetadata string) bool {
	if obj.Spec.SourceRef.Kind != sourcev1.HelmRepositoryKind && !strings.HasSuffix(obj.Spec.Chart, ".tgz") {
		return true
	}
	return len(obj.Spec.ValuesFiles) > 0 || versionMetadata != ""
}

// Summary words a chart build as Flux's conditions and Events do, for
// example "pulled 'podinfo' chart with version '6.1.0'".
func Summary(packaged bool, name, version string, valuesFiles []string) string {
	action := "pulled"
	if packaged {
		action = "packaged"
	}
	s := fmt.Sprintf("%s '%s' chart with version '%s'", action, name, version)
	if len(valuesFiles) > 0 {
		s += fmt.Sprintf(" and merged values files %v", valuesFiles)
	}
	return s
}

// Reason returns Flux's success reason of a build.
func Reason(packaged bool) string {
	if packaged {
		return sourcev1.ChartPackageSucceededReason
	}
	return sourcev1.ChartPullSucceededReason
}

// failureSummary is how Flux prefixes a build error of each reason.
var failureSummary = map[string]string{
	helm.ReasonInvalidChartReference:  "invalid chart reference",
	helm.ReasonChartPullError:         "chart pull error",
	helm.ReasonMetadataPatchError:     "chart metadata patch error",
	helm.ReasonValuesFilesError:       "values files merge error",
	helm.ReasonDependencyBuildError:   "dependency build error",
	helm.ReasonChartPackageError:      "chart package error",
	helm.ReasonChartVerificationError: "chart verification error",
	helm.ReasonUnknown:                "unknown build error",
}

// BuildError words err, an error of a chart pull or build, as Flux's
// build errors read: "<what failed>: <err>".
func BuildError(f helm.Failure, err error) error {
	return fmt.Errorf("%s: %w", failureSummary[f.Reason], err)
}
