package helm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/source"
)

// Error is the error the package's operations return, with Origin "helm",
// the repository URL or chart reference as Subject (without credentials)
// and as Op the stage that failed: "index" (the repository index), "get"
// (the chart or version in it), "download", "verify", "load" (the chart
// of a Build), "values", "metadata", "dependency" or "package" (see
// FailureOf); errors of source/oci (Origin "oci") pass through. It
// unwraps to one of the source sentinels (source.ErrAuth, ErrNotFound,
// ErrRefNotFound for a chart or version that is not in the index,
// ErrVerification for a digest mismatch, ErrNetwork, ErrInvalid), to
// ErrTooLarge when a cap was hit, to ErrPathEscape or ErrInvalidChart, and
// to the context's error when the context ended.
type Error = source.Error

// Sentinel errors of this package, besides source's.
var (
	// ErrTooLarge reports an index, a chart or a file inside a chart over
	// its size cap. It is artifact.ErrTooLarge, so one errors.Is test
	// serves every package.
	ErrTooLarge = artifact.ErrTooLarge
	// ErrPathEscape reports a path (a values file, a file:// dependency, an
	// entry of a chart archive) that leads outside the directory it must
	// stay in.
	ErrPathEscape = errors.New("path leads outside its root")
	// ErrInvalidChart reports a chart that does not load: a Chart.yaml
	// without a name or a SemVer version, an archive that is not a chart,
	// values that are not a YAML map.
	ErrInvalidChart = errors.New("invalid chart")
)

// origin is the Origin of this package's errors.
const origin = "helm"

// newError builds an *Error of a given kind with a formatted detail.
func newError(op, subject string, red *source.Redactor, kind error, format string, args ...any) *Error {
	return source.NewError(origin, op, subject, red, kind, fmt.Sprintf(format, args...))
}

// kindError carries a sentinel through the package's internals: its text
// is the description alone, and classify files it under its kind.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// classify turns an internal error into an *Error masked with red.
func classify(ctx context.Context, op, subject string, err error, red *source.Redactor) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	var st *stageError
	if errors.As(err, &st) {
		op = st.op
	}
	out := source.NewError(origin, op, subject, red, nil, err.Error())
	switch {
	case ctx.Err() != nil:
		out.Kind, out.Cause = source.ErrNetwork, ctx.Err()
	case errors.Is(err, ErrTooLarge):
		out.Cause = ErrTooLarge
	case errors.Is(err, ErrPathEscape):
		out.Kind = source.ErrInvalid
		out.Cause = ErrPathEscape
	case errors.Is(err, ErrInvalidChart):
		out.Cause = ErrInvalidChart
	}
	if out.Kind == nil {
		for _, k := range []error{source.ErrAuth, source.ErrNotFound, source.ErrRefNotFound, source.ErrVerification, source.ErrNetwork, source.ErrInvalid} {
			if errors.Is(err, k) {
				out.Kind = k
				break
			}
		}
	}
	if out.Kind == nil {
		var ne net.Error
		var ue *url.Error
		if errors.As(err, &ne) || errors.As(err, &ue) {
			out.Kind = source.ErrNetwork
		}
	}
	return out
}

// stageError marks the stage of a chart pull or build an error happened
// in; classify makes it the *Error's Op.
type stageError struct {
	op  string
	err error
}

func (e *stageError) Error() string { return e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

// staged marks err as failing in stage op; nil stays nil.
func staged(op string, err error) error {
	if err == nil {
		return nil
	}
	return &stageError{op: op, err: err}
}

// Flux's reasons for a failed HelmChart build, as FailureOf reports them.
const (
	ReasonInvalidChartReference  = "InvalidChartReference"
	ReasonChartPullError         = "ChartPullError"
	ReasonMetadataPatchError     = "MetadataPatchError"
	ReasonValuesFilesError       = "ValuesFilesError"
	ReasonDependencyBuildError   = "DependencyBuildError"
	ReasonChartPackageError      = "ChartPackageError"
	ReasonChartVerificationError = "ChartVerificationError"
	ReasonUnknown                = "Unknown"
)

// Failure says how Flux's HelmChart reconciler reports a failed pull or
// build.
type Failure struct {
	// Reason is Flux's reason, one of the Reason constants.
	Reason string
	// Build is true when Flux reports the failure under the BuildFailed
	// condition (values, metadata, dependencies, packaging, verification),
	// false under FetchFailed.
	Build bool
	// Persistent is true when retrying cannot help until the object or
	// its source changes (Flux stalls): an invalid reference, values files
	// or version metadata.
	Persistent bool
}

// FailureOf returns how Flux reports err, an error of Chart, OCIChart or
// Build, by the stage (the *Error's Op) it failed in: "get" and "load"
// (the chart or version is not there, or is not a chart) are
// InvalidChartReference; "index", "download", and source/oci's "resolve"
// and "fetch" are ChartPullError (a version that does not resolve is
// InvalidChartReference); "verify" is ChartVerificationError; "values",
// "metadata", "dependency" and "package" are ValuesFilesError,
// MetadataPatchError, DependencyBuildError and ChartPackageError.
func FailureOf(err error) Failure {
	var e *Error
	if !errors.As(err, &e) {
		return Failure{Reason: ReasonUnknown}
	}
	switch e.Op {
	case "get", "load":
		return Failure{Reason: ReasonInvalidChartReference, Persistent: errors.Is(err, source.ErrInvalid) || errors.Is(err, ErrInvalidChart)}
	case "resolve":
		if errors.Is(err, source.ErrRefNotFound) || errors.Is(err, source.ErrInvalid) {
			return Failure{Reason: ReasonInvalidChartReference, Persistent: errors.Is(err, source.ErrInvalid)}
		}
		return Failure{Reason: ReasonChartPullError}
	case "index", "download", "fetch":
		return Failure{Reason: ReasonChartPullError}
	case "verify":
		return Failure{Reason: ReasonChartVerificationError, Build: true}
	case "values":
		return Failure{Reason: ReasonValuesFilesError, Build: true, Persistent: true}
	case "metadata":
		return Failure{Reason: ReasonMetadataPatchError, Build: true, Persistent: true}
	case "dependency":
		return Failure{Reason: ReasonDependencyBuildError, Build: true}
	case "package":
		return Failure{Reason: ReasonChartPackageError, Build: true}
	}
	return Failure{Reason: ReasonUnknown}
}
