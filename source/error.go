package source

import (
	"fmt"
	"strings"
)

// Error is the error the origin packages (git, oci, bucket) return for a
// failed operation; each of them names it as its own Error. It unwraps to
// its Kind, one of the sentinels of this package (ErrAuth, ErrNotFound,
// ErrRefNotFound, ErrVerification, ErrNetwork, ErrInvalid) or of the
// origin package, and to its Cause, such as the context's error when the
// context ended. Its text never holds credentials: Subject and Detail are
// set redacted (see NewError and RedactDetail).
//
// Its text reads "<origin> <op> <subject> at <endpoint> object "<key>":
// <kind>: <detail>", each part left out when it is empty.
type Error struct {
	// Origin names the kind of source: "git", "oci", "bucket" or "helm".
	Origin string
	// Op is what failed, for example "fetch", "ls-remote", "resolve",
	// "push" or "list".
	Op string
	// Subject is what the operation was about, without credentials: a
	// repository URL, an OCI reference such as
	// "registry.example.com/app:v1", or a bucket name.
	Subject string
	// Endpoint is the server address without credentials, when Subject
	// does not hold it (a bucket's endpoint), if known.
	Endpoint string
	// Key is the object within Subject concerned, if any (a bucket's
	// object key).
	Key string
	// Kind is the sentinel for the failure, or nil.
	Kind error
	// Detail is the redacted description of the failure.
	Detail string
	// Cause is an error the failure also unwraps to besides Kind, such as
	// the context's error or a size cap's sentinel, or nil. Its text is
	// not part of the Error's.
	Cause error
}

// NewError returns an *Error of a given kind for op on subject. Subject
// is masked with red, and detail is masked with red and capped (see
// RedactDetail). A nil red masks by shape only.
func NewError(origin, op, subject string, red *Redactor, kind error, detail string) *Error {
	return &Error{Origin: origin, Op: op, Subject: red.Redact(subject), Kind: kind, Detail: RedactDetail(red, detail)}
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Origin)
	if e.Op != "" {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString(e.Op)
	}
	if e.Subject != "" {
		b.WriteString(" ")
		b.WriteString(e.Subject)
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

// Unwrap returns Kind and Cause, those that are set.
func (e *Error) Unwrap() []error {
	var out []error
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Cause != nil {
		out = append(out, e.Cause)
	}
	return out
}

// MaxDetail caps the length of an Error's Detail: a server's error body
// is quoted in it and may be of any size.
const MaxDetail = 4 << 10

// RedactDetail masks credentials in msg with red (by shape only when red
// is nil) and caps its length at MaxDetail. Capping comes after masking,
// so that no secret is cut in two and half shown.
func RedactDetail(red *Redactor, msg string) string {
	msg = red.Redact(msg)
	if len(msg) > MaxDetail {
		msg = msg[:MaxDetail] + "... (truncated)"
	}
	return msg
}
