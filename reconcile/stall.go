package reconcile

import (
	"errors"

	"github.com/gitopskit/gitopskit/source"
)

// IsStalling reports whether err is a problem of the object's spec that
// retrying cannot fix until the object changes, so that a controller marks
// the object Stalled instead of retrying:
//
//   - source.ErrInvalid: a source configuration that cannot be acted on
//     (a malformed URL, reference or version range, options that do not
//     fit together);
//   - ErrInvalidExpression: a CEL expression (a health check) that does
//     not compile;
//   - ErrAccessDenied: a reference the controller's lockdown refuses
//     (CheckSameNamespace).
//
// Everything else is retried, notably a build that a new revision of the
// source may fix (kustomize's ErrOutsideRoot, ErrRemoteBase and
// ErrHelmCharts, a substitution error), a refused apply, a failed health
// check and any failure to reach an origin or the API server.
func IsStalling(err error) bool {
	return errors.Is(err, source.ErrInvalid) || errors.Is(err, ErrInvalidExpression) || errors.Is(err, ErrAccessDenied)
}
