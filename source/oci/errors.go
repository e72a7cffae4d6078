package oci

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/source"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrTooLarge is returned (wrapped in an *Error) when a manifest or a layer
// exceeds its size cap, or an extracted layer exceeds the unpack caps. It
// is artifact.ErrTooLarge, so one errors.Is test serves every package.
var ErrTooLarge = artifact.ErrTooLarge

// Error is the error the package's operations return, with Origin "oci"
// and the repository or reference the operation was about as Subject,
// for example "registry.example.com/app:v1". It unwraps to one of the
// source sentinels (source.ErrAuth, ErrNotFound, ErrRefNotFound,
// ErrVerification, ErrNetwork, ErrInvalid) when the failure is of that
// kind, to ErrTooLarge when a cap was hit, and to the context's error when
// the context ended. Its text names the reference and never holds
// credentials: known secrets and whatever looks like one are masked.
type Error = source.Error

// origin is the Origin of this package's errors.
const origin = "oci"

// newError builds an *Error of a given kind with a formatted detail.
func newError(op, ref string, red *source.Redactor, kind error, format string, args ...any) *Error {
	return source.NewError(origin, op, ref, red, kind, fmt.Sprintf(format, args...))
}

// configError is a configuration error: its text is the description alone
// and it unwraps to source.ErrInvalid.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }
func (e *configError) Unwrap() error { return source.ErrInvalid }

func invalidf(format string, args ...any) error {
	return &configError{msg: fmt.Sprintf(format, args...)}
}

// verificationError marks a digest or size mismatch found while reading.
type verificationError struct{ msg string }

func (e *verificationError) Error() string { return e.msg }
func (e *verificationError) Unwrap() error { return source.ErrVerification }

// classify turns an error from go-containerregistry, the network or this
// package into an *Error whose text is masked with red.
func classify(ctx context.Context, op, ref string, err error, red *source.Redactor) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	e := source.NewError(origin, op, ref, red, nil, err.Error())
	msg := err.Error()
	var (
		terr      *transport.Error
		netErr    net.Error
		opErr     *net.OpError
		dnsErr    *net.DNSError
		urlErr    *url.Error
		certErr   x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		certInval x509.CertificateInvalidError
	)
	switch {
	case errors.Is(err, source.ErrInvalid):
		e.Kind = source.ErrInvalid
	case errors.Is(err, source.ErrVerification):
		e.Kind = source.ErrVerification
	case errors.Is(err, ErrTooLarge):
		e.Cause = ErrTooLarge
	case ctx.Err() != nil:
		e.Cause = ctx.Err()
		e.Kind = source.ErrNetwork
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		e.Cause = err
		e.Kind = source.ErrNetwork
	case errors.As(err, &terr):
		e.Kind = statusKind(terr)
	case strings.Contains(msg, "error verifying") && strings.Contains(msg, "checksum"),
		strings.Contains(msg, "does not match expected size"),
		strings.Contains(msg, "manifest digest") && strings.Contains(msg, "does not match"):
		e.Kind = source.ErrVerification
	case errors.As(err, &certErr), errors.As(err, &hostErr), errors.As(err, &certInval),
		errors.As(err, &dnsErr), errors.As(err, &opErr), errors.As(err, &netErr), errors.As(err, &urlErr):
		e.Kind = source.ErrNetwork
	case strings.Contains(msg, "connection refused"), strings.Contains(msg, "no such host"),
		strings.Contains(msg, "i/o timeout"), strings.Contains(msg, "server gave HTTP response to HTTPS client"),
		strings.Contains(msg, "EOF"):
		e.Kind = source.ErrNetwork
	}
	return e
}

// statusKind maps a registry's error reply to a source sentinel.
func statusKind(terr *transport.Error) error {
	for _, d := range terr.Errors {
		switch d.Code {
		case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
			return source.ErrAuth
		case transport.NameUnknownErrorCode:
			return source.ErrNotFound
		case transport.ManifestUnknownErrorCode, transport.BlobUnknownErrorCode:
			return source.ErrRefNotFound
		}
	}
	switch terr.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return source.ErrAuth
	case http.StatusNotFound:
		return source.ErrRefNotFound
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return source.ErrNetwork
	}
	return nil
}
