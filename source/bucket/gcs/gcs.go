package gcs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/bucket"
)

// Defaults for Options' zero values.
const (
	// DefaultEndpoint is Google Cloud Storage's JSON API endpoint, used
	// when Options.Endpoint is empty.
	DefaultEndpoint = "https://storage.googleapis.com/storage/v1/"
	// DefaultPageSize is the number of objects List asks for per request
	// when Options.PageSize is zero: the service's maximum.
	DefaultPageSize = 1000
	// DefaultMaxRetries is how many times a request that failed with a
	// network error or a 408, 429 or 5xx response is retried when
	// Options.MaxRetries is zero.
	DefaultMaxRetries = 3
)

// ReadOnlyScope is the OAuth2 scope of the tokens the provider asks for
// with a service-account key or Application Default Credentials: read
// access to objects and their listings, nothing more.
const ReadOnlyScope = storage.ScopeReadOnly

// Options configures the provider. The zero value of every optional field
// is the safe default: anonymous access to storage.googleapis.com over
// HTTPS verified against the system roots, no proxy, pages of
// DefaultPageSize objects, DefaultMaxRetries retries. At most one of
// ServiceAccountKey, TokenSource, HTTPClient and ApplicationDefault may be
// set.
type Options struct {
	// Bucket is the bucket name (a Flux Bucket's spec.bucketName).
	// Required.
	Bucket string
	// Endpoint is the JSON API endpoint: empty for DefaultEndpoint, or a
	// private endpoint or an emulator as "host[:port]",
	// "https://host[:port]" or "http://host:port" (with Insecure),
	// optionally followed by the API's base path (default
	// "/storage/v1/"). It holds no user information and no query.
	Endpoint string

	// ServiceAccountKey is a service account's JSON key (a Flux Bucket's
	// secretRef key "serviceaccount"), exchanged at its token_uri for
	// access tokens of ReadOnlyScope. Only keys of type
	// "service_account" with an https token_uri are accepted.
	ServiceAccountKey []byte
	// TokenSource supplies the caller's access tokens, for example a
	// workload-identity or token-broker source; each request carries
	// the current token. Tokens are reused until they expire.
	TokenSource oauth2.TokenSource
	// HTTPClient is the caller's client, used as is for every request:
	// it authenticates them (or not) and sets its own TLS and proxy, so
	// CA and Proxy must be empty.
	HTTPClient *http.Client
	// ApplicationDefault looks up Google's Application Default
	// Credentials (the GOOGLE_APPLICATION_CREDENTIALS file, the gcloud
	// configuration, the metadata server) when New is called, for
	// tokens of ReadOnlyScope. Off by default: the provider reads no
	// environment unless asked to.
	ApplicationDefault bool

	// CA holds PEM certificates trusted in addition to the system roots
	// for the TLS certificates of the endpoint and the token endpoint.
	CA []byte
	// Insecure allows an "http://" endpoint, as a Flux Bucket's
	// spec.insecure does. Off by default: HTTPS only. Tokens are then
	// sent in clear to that endpoint.
	Insecure bool
	// Proxy routes the traffic (token requests included) through an
	// HTTP(S) or SOCKS5 proxy; nil means a direct connection
	// (environment variables are not read).
	Proxy *bucket.Proxy

	// PageSize is the number of objects asked for per listing request,
	// 1 to 1,000; zero means DefaultPageSize.
	PageSize int
	// MaxRetries is how many times a request that failed with a network
	// error or a 408, 429 or 5xx response is retried, with exponential
	// back-off; zero means DefaultMaxRetries, a negative value means no
	// retry.
	MaxRetries int
}

// Provider is the Google Cloud Storage bucket.Provider. Create it with
// New and release it with Close; it is safe for concurrent use.
type Provider struct {
	client   *storage.Client
	handle   *storage.BucketHandle
	bucket   string
	where    string
	red      *redactor
	pageSize int
	idle     func()
}

var _ bucket.Provider = (*Provider)(nil)

// origin is the Origin of this package's errors, the same as package
// bucket's.
const origin = "bucket"

// maxGetAttempts bounds how often Get reads an object's attributes again
// when the object changed between them and its download.
const maxGetAttempts = 3

// New validates opts and returns the provider. It does not contact the
// server, except that ApplicationDefault may query the metadata server.
// Configuration errors wrap source.ErrInvalid and name fields, never
// values of credentials. ctx bounds New only.
func New(ctx context.Context, opts Options) (*Provider, error) {
	red := newRedactor()
	fail := func(format string, args ...any) error {
		return &bucket.Error{Origin: origin, Op: "configure", Subject: opts.Bucket, Kind: source.ErrInvalid,
			Detail: red.redact(fmt.Sprintf(format, args...))}
	}
	if why := checkBucketName(opts.Bucket); why != "" {
		name := opts.Bucket
		opts.Bucket = "" // not a name: quoted, capped, in the detail only
		if name == "" {
			return nil, fail("%s", why)
		}
		return nil, fail("bucket name %.80q: %s", name, why)
	}
	endpoint, where, err := parseEndpoint(opts.Endpoint, opts.Insecure)
	if err != nil {
		return nil, fail("%v", err)
	}
	n := 0
	for _, set := range []bool{len(opts.ServiceAccountKey) > 0, opts.TokenSource != nil, opts.HTTPClient != nil, opts.ApplicationDefault} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, fail("ServiceAccountKey, TokenSource, HTTPClient and ApplicationDefault exclude each other: set one at most")
	}
	switch {
	case opts.PageSize < 0 || opts.PageSize > DefaultPageSize:
		return nil, fail("PageSize %d is not between 1 and %d", opts.PageSize, DefaultPageSize)
	case opts.HTTPClient != nil && (len(opts.CA) > 0 || opts.Proxy != nil):
		return nil, fail("CA and Proxy cannot shape a caller's HTTPClient: set them on its transport")
	case len(opts.CA) > 0 && opts.Insecure:
		return nil, fail("a CA certificate was given but Insecure asks for plain http")
	}

	hc := opts.HTTPClient
	idle := func() {} // a caller's client is the caller's to manage
	if hc == nil {
		base, err := newTransport(opts, red)
		if err != nil {
			return nil, fail("%v", err)
		}
		idle = base.CloseIdleConnections
		hc, err = authClient(ctx, opts, base, red)
		if err != nil {
			var already *bucket.Error
			if errors.As(err, &already) {
				return nil, err
			}
			return nil, fail("%v", err)
		}
	}
	client, err := storage.NewClient(ctx,
		option.WithHTTPClient(hc),
		option.WithoutAuthentication(), // hc authenticates; no credential lookup
		option.WithEndpoint(endpoint),
		storage.WithJSONReads(),
		storage.WithDisabledClientMetrics(),
	)
	if err != nil {
		return nil, fail("%v", err)
	}
	retries := opts.MaxRetries
	switch {
	case retries == 0:
		retries = DefaultMaxRetries
	case retries < 0:
		retries = 0
	}
	client.SetRetry(
		storage.WithMaxAttempts(retries+1),
		storage.WithBackoff(gax.Backoff{Initial: 200 * time.Millisecond, Max: 10 * time.Second, Multiplier: 2}),
	)
	pageSize := opts.PageSize
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	p := &Provider{
		client:   client,
		handle:   client.Bucket(opts.Bucket),
		bucket:   opts.Bucket,
		where:    where,
		red:      red,
		pageSize: pageSize,
		idle:     idle,
	}
	return p, nil
}

// String names the bucket and its endpoint, without credentials.
func (p *Provider) String() string { return p.bucket + " at " + p.where }

// Close releases the client and its idle connections. The provider must
// not be used afterwards.
func (p *Provider) Close() error {
	err := p.client.Close()
	p.idle()
	return err
}

// List implements bucket.Provider. It asks for pages of PageSize objects
// (names, ETags and sizes only) until the listing is complete; the ETag is
// the JSON API's, the one Flux indexes.
func (p *Provider) List(ctx context.Context, prefix string, visit func(bucket.Object) error) error {
	q := &storage.Query{Prefix: prefix}
	if err := q.SetAttrSelection([]string{"Name", "Etag", "Size"}); err != nil {
		return p.classify(ctx, "list", "", err)
	}
	it := p.handle.Objects(ctx, q)
	it.PageInfo().MaxSize = p.pageSize
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return p.classify(ctx, "list", "", err)
		}
		if err := visit(bucket.Object{Key: a.Name, ETag: a.Etag, Size: a.Size}); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return p.classify(ctx, "list", "", err)
	}
	return nil
}

// Get implements bucket.Provider. It reads the object's attributes, then
// its content on the condition that its generation is still the same; if
// the object was replaced in between, it starts again (a few times), so
// that the returned ETag always describes the content.
func (p *Provider) Get(ctx context.Context, key string) (io.ReadCloser, bucket.Object, error) {
	obj := p.handle.Object(key)
	var lastErr error
	for range maxGetAttempts {
		attrs, err := obj.Attrs(ctx)
		if err != nil {
			return nil, bucket.Object{}, p.classify(ctx, "get", key, err)
		}
		r, err := obj.If(storage.Conditions{GenerationMatch: attrs.Generation}).NewReader(ctx)
		if isPreconditionFailed(err) || errors.Is(err, storage.ErrObjectNotExist) {
			lastErr = err // replaced or deleted meanwhile: look again
			continue
		}
		if err != nil {
			return nil, bucket.Object{}, p.classify(ctx, "get", key, err)
		}
		return &body{r: r, p: p, ctx: ctx, key: key}, bucket.Object{Key: key, ETag: attrs.Etag, Size: attrs.Size}, nil
	}
	return nil, bucket.Object{}, p.classify(ctx, "get", key,
		fmt.Errorf("the object changed during each of %d attempts to download it: %w", maxGetAttempts, lastErr))
}

func isPreconditionFailed(err error) bool {
	var gerr *googleapi.Error
	return errors.As(err, &gerr) && gerr.Code == http.StatusPreconditionFailed
}

// body classifies the errors of a download's body.
type body struct {
	r   *storage.Reader
	p   *Provider
	ctx context.Context
	key string
}

func (b *body) Read(buf []byte) (int, error) {
	n, err := b.r.Read(buf)
	if err != nil && err != io.EOF {
		err = b.p.classify(b.ctx, "get", b.key, err)
	}
	return n, err
}

func (b *body) Close() error { return b.r.Close() }

// checkBucketName returns why name is not a bucket name Google Cloud
// Storage accepts, or "": 3 to 222 characters of lowercase letters,
// digits, '-', '_' and '.', starting and ending with a letter or digit,
// dot-separated parts of at most 63 characters.
func checkBucketName(name string) string {
	switch {
	case name == "":
		return "no bucket name"
	case len(name) < 3 || len(name) > 222:
		return "a bucket name has 3 to 222 characters"
	case !alnum(name[0]) || !alnum(name[len(name)-1]):
		return "a bucket name starts and ends with a lowercase letter or a digit"
	}
	for _, c := range []byte(name) {
		if !alnum(c) && c != '-' && c != '_' && c != '.' {
			return "a bucket name holds only lowercase letters, digits, '-', '_' and '.'"
		}
	}
	for _, part := range strings.Split(name, ".") {
		if len(part) == 0 || len(part) > 63 {
			return "each dot-separated part of a bucket name has 1 to 63 characters"
		}
	}
	return ""
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// parseEndpoint returns the JSON API base URL for endpoint and the
// scheme://host[:port] that names it in errors.
func parseEndpoint(endpoint string, insecure bool) (base, where string, err error) {
	if endpoint == "" {
		if insecure {
			return "", "", errors.New("the default endpoint is https only: Insecure needs an http:// endpoint")
		}
		return DefaultEndpoint, "https://storage.googleapis.com", nil
	}
	shown := source.RedactURL(endpoint)
	raw := endpoint
	if !strings.Contains(raw, "://") {
		scheme := "https://"
		if insecure {
			scheme = "http://"
		}
		raw = scheme + raw
	}
	u, perr := url.Parse(raw)
	switch {
	case perr != nil || u.Host == "" || u.Opaque != "":
		return "", "", fmt.Errorf("endpoint %q does not parse as [scheme://]host[:port][/path]", shown)
	case u.User != nil || strings.Contains(u.Host, "@"):
		return "", "", fmt.Errorf("endpoint %q holds user information: give credentials in their own fields", shown)
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(raw, "?"):
		return "", "", fmt.Errorf("endpoint %q holds a query or a fragment", shown)
	case u.Scheme == "https" && insecure && strings.Contains(endpoint, "://"):
		return "", "", fmt.Errorf("endpoint %q asks for https but Insecure asks for plain http", shown)
	case u.Scheme == "http" && !insecure:
		return "", "", fmt.Errorf("endpoint %q is plain http: set Insecure to allow it", shown)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", "", fmt.Errorf("endpoint %q has scheme %q, not https or http", shown, u.Scheme)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/storage/v1/"
	} else if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawPath = ""
	return u.String(), u.Scheme + "://" + u.Host, nil
}
