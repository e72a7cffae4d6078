package bucket

import (
	"errors"
	"fmt"
	"strings"

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

// Error is the error Bucket and S3 return for a failed operation. It
// unwraps to the sentinel of its Kind (source.ErrAuth, source.ErrNotFound
// for a missing bucket, source.ErrNetwork, source.ErrInvalid,
// ErrObjectNotFound, ErrUnsafeKey, ErrLimit) and to the context's error
// when the context ended. Its text never holds a credential.
type Error struct {
	// Op is what failed: "configure", "list", "get", "write" or "fetch".
	Op string
	// Bucket is the bucket name.
	Bucket string
	// Endpoint is the server address without credentials, if known.
	Endpoint string
	// Key is the object key concerned, if any.
	Key string
	// Kind is the sentinel for the failure, or nil.
	Kind error
	// Detail is the redacted description of the failure.
	Detail string

	ctxErr error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("bucket ")
	b.WriteString(e.Op)
	if e.Bucket != "" {
		b.WriteString(" ")
		b.WriteString(e.Bucket)
	}
	if e.Endpoint != "" {
		b.WriteString(" at ")
		b.WriteString(e.Endpoint)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, " object %q", e.Key)
	}
	if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(e.Kind.Error())
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap returns the sentinel and the context error, if any.
func (e *Error) Unwrap() []error {
	var out []error
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.ctxErr != nil {
		out = append(out, e.ctxErr)
	}
	return out
}

// maxDetail caps an Error's Detail: a server's reply is quoted in it.
const maxDetail = 4 << 10

// redactDetail masks credentials in msg, then caps its length.
func redactDetail(red *source.Redactor, msg string) string {
	msg = red.Redact(msg)
	if len(msg) > maxDetail {
		msg = msg[:maxDetail] + "... (truncated)"
	}
	return msg
}
