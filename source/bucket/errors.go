package bucket

import (
	"errors"

	"github.com/gitopskit/gitopskit/source"
)

// Sentinel errors of this package, besides source's.
var (
	// ErrUnsafeKey reports an object key that would be written outside
	// the target directory, or that does not name a plain relative path:
	// a ".." or "." segment, a leading "/", a backslash, a NUL or an
	// empty segment. Object keys are untrusted input (Flux advisory
	// GHSA-jjrm-hr5f-673x).
	ErrUnsafeKey = errors.New("unsafe object key")
	// ErrLimit reports that a bucket exceeds a cap of Limits.
	ErrLimit = errors.New("bucket exceeds a limit")
)

// Error is the error Bucket and S3 return for a failed operation, with
// Origin "bucket", the bucket name as Subject, the server address without
// credentials as Endpoint (if known) and the object key concerned as Key
// (if any). Its Op is "configure", "list", "get", "write" or "fetch". It
// unwraps to the sentinel of its Kind (source.ErrAuth, source.ErrNotFound
// for a missing bucket, source.ErrNetwork, source.ErrInvalid,
// ErrObjectNotFound, ErrUnsafeKey, ErrLimit) and to the context's error
// when the context ended. Its text never holds a credential.
type Error = source.Error

// origin is the Origin of this package's errors.
const origin = "bucket"
