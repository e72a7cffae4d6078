package git

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/gitopskit/gitopskit/source"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Error is the error a Repository returns for a failed operation, with
// Origin "git" and the repository address without userinfo as Subject. It
// unwraps to one of the source sentinels (source.ErrAuth, ErrNotFound,
// ErrRefNotFound, ErrVerification, ErrNetwork, ErrInvalid) when the
// failure is of that kind, and to the context's error when the context
// ended. Configuration errors (a malformed URL, reference, version range,
// path or key, credentials that do not fit together) are found before
// anything is fetched and have Kind source.ErrInvalid; so do those of
// AuthFromSecretData, ProxyFromSecretData and SelectSemVer. Its text never
// holds credentials: the URL is shown without userinfo and known secrets
// are masked.
type Error = source.Error

// origin is the Origin of this package's errors.
const origin = "git"

// classify turns an error from go-git or the network into an *Error whose
// text is masked with red (the credentials in use).
func classify(ctx context.Context, op, cleanURL string, err error, red *source.Redactor) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	msg := err.Error()
	e := source.NewError(origin, op, cleanURL, red, nil, msg)
	var (
		noMatch   gogit.NoMatchingRefSpecError
		netErr    net.Error
		opErr     *net.OpError
		dnsErr    *net.DNSError
		urlErr    *url.Error
		certErr   *x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		certInval x509.CertificateInvalidError
	)
	switch {
	case ctx.Err() != nil:
		e.Cause = ctx.Err()
		e.Kind = source.ErrNetwork
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		e.Cause = err
		e.Kind = source.ErrNetwork
	case errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod):
		e.Kind = source.ErrAuth
		e.Detail = source.RedactDetail(red, authDetail(err))
	case strings.Contains(msg, "knownhosts: key is unknown"), strings.Contains(msg, "knownhosts: key mismatch"):
		e.Kind = source.ErrAuth
		e.Detail = "the server's SSH host key is not in known_hosts"
	case strings.Contains(msg, "ssh: handshake failed") && strings.Contains(msg, "unable to authenticate"):
		e.Kind = source.ErrAuth
	case errors.Is(err, transport.ErrRepositoryNotFound):
		e.Kind = source.ErrNotFound
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		e.Kind = source.ErrRefNotFound
		e.Detail = "the repository is empty"
	case errors.Is(err, plumbing.ErrReferenceNotFound), errors.As(err, &noMatch), errors.Is(err, plumbing.ErrObjectNotFound):
		e.Kind = source.ErrRefNotFound
	case errors.As(err, &certErr), errors.As(err, &hostErr), errors.As(err, &certInval):
		e.Kind = source.ErrNetwork
	case errors.As(err, &dnsErr), errors.As(err, &opErr), errors.As(err, &netErr), errors.As(err, &urlErr):
		e.Kind = source.ErrNetwork
	case strings.Contains(msg, "connection refused"), strings.Contains(msg, "no such host"),
		strings.Contains(msg, "i/o timeout"), strings.Contains(msg, "EOF"):
		e.Kind = source.ErrNetwork
	}
	return e
}

// newError builds an *Error of a given kind with a formatted detail,
// masked with red (the credentials in use).
func newError(op, cleanURL string, red *source.Redactor, kind error, format string, args ...any) *Error {
	return source.NewError(origin, op, cleanURL, red, kind, fmt.Sprintf(format, args...))
}

// authDetail describes an authentication failure from go-git once. go-git
// prefixes the server's reply with its own sentinel ("authentication
// required: <reply>"), and servers often reply with those very words: the
// reply is kept only when it says something more.
func authDetail(err error) string {
	msg := err.Error()
	for _, sentinel := range []error{transport.ErrAuthenticationRequired, transport.ErrAuthorizationFailed, transport.ErrInvalidAuthMethod} {
		prefix := sentinel.Error()
		rest, ok := strings.CutPrefix(msg, prefix)
		if !ok {
			continue
		}
		reply := strings.TrimSpace(strings.TrimPrefix(rest, ":"))
		if reply == "" || strings.EqualFold(strings.TrimSuffix(reply, "."), prefix) {
			return prefix
		}
		return prefix + ": " + reply
	}
	return msg
}

// configError is a configuration error found before anything is fetched:
// its text is the description alone and it unwraps to source.ErrInvalid.
// Repository methods report it as an *Error (see asInvalid).
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }
func (e *configError) Unwrap() error { return source.ErrInvalid }

// invalidf formats a configuration error.
func invalidf(format string, args ...any) error {
	return &configError{msg: fmt.Sprintf(format, args...)}
}

// invalidError returns the *Error of kind source.ErrInvalid for op, with
// no URL, describing err (masked with red when it is not nil).
func invalidError(op string, red *source.Redactor, err error) *Error {
	if red == nil {
		red = source.NewRedactor()
	}
	return source.NewError(origin, op, "", red, source.ErrInvalid, err.Error())
}

// asInvalid reports a configuration error of r (one that wraps
// source.ErrInvalid) as an *Error for op, with r's URL when it parses and
// every credential of r masked. Other errors, and errors that already are
// an *Error, are returned as they are.
func (r *Repository) asInvalid(op string, err error) error {
	var already *Error
	if err == nil || errors.As(err, &already) || !errors.Is(err, source.ErrInvalid) {
		return err
	}
	ep, perr := parseEndpoint(r.URL)
	red := newRedactor(r.URL, ep, r.Auth, r.Proxy)
	e := invalidError(op, red, err)
	if perr == nil {
		e.Subject = red.Redact(ep.Clean)
	}
	return e
}
