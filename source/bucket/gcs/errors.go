package gcs

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"

	"cloud.google.com/go/storage"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/bucket"
)

// classify turns a client error into a *bucket.Error of the matching
// kind, with every credential masked. key is "" for the listing.
func (p *Provider) classify(ctx context.Context, op, key string, err error) error {
	e := &bucket.Error{Origin: origin, Op: op, Subject: p.bucket, Endpoint: p.where, Key: key}
	var (
		gerr   *googleapi.Error
		rerr   *oauth2.RetrieveError
		terr   *tokenError
		netErr net.Error
	)
	switch {
	case ctx.Err() != nil:
		e.Kind, e.Cause = source.ErrNetwork, ctx.Err()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e.Kind, e.Cause = source.ErrNetwork, err
	case errors.Is(err, storage.ErrBucketNotExist):
		e.Kind = source.ErrNotFound
	case errors.Is(err, storage.ErrObjectNotExist):
		e.Kind = bucket.ErrObjectNotFound
	case errors.As(err, &terr):
		// No token: the token endpoint refused the grant (or failed, or
		// could not be reached), or the caller's source failed.
		e.Kind = source.ErrAuth
		switch {
		case terr.unreachable != nil:
			e.Kind = source.ErrNetwork
		case errors.As(terr, &rerr):
			if rerr.Response != nil && rerr.Response.StatusCode >= 500 {
				e.Kind = source.ErrNetwork
			}
		case errors.As(terr, &netErr):
			e.Kind = source.ErrNetwork
		}
	case errors.As(err, &rerr):
		// A caller's client failed to obtain a token.
		e.Kind = source.ErrAuth
		if rerr.Response != nil && rerr.Response.StatusCode >= 500 {
			e.Kind = source.ErrNetwork
		}
	case errors.As(err, &gerr):
		switch {
		case gerr.Code == http.StatusUnauthorized, gerr.Code == http.StatusForbidden:
			e.Kind = source.ErrAuth
		case gerr.Code == http.StatusNotFound && key == "":
			e.Kind = source.ErrNotFound
		case gerr.Code == http.StatusNotFound:
			e.Kind = bucket.ErrObjectNotFound
		case gerr.Code == http.StatusRequestTimeout, gerr.Code == http.StatusTooManyRequests, gerr.Code >= 500:
			e.Kind = source.ErrNetwork
		}
	case errors.As(err, &netErr):
		e.Kind = source.ErrNetwork
	}
	msg := err.Error()
	var uerr *url.Error
	if errors.As(err, &uerr) && uerr.Err != nil && strings.Contains(msg, uerr.Error()) {
		// The request URL repeats the endpoint, bucket and key the error
		// names already, with every query parameter: say what happened.
		msg = strings.Replace(msg, uerr.Error(), uerr.Err.Error(), 1)
	}
	e.Detail = p.red.redact(msg)
	return e
}
