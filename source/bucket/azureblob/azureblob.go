package azureblob

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/bucket"
)

// DefaultPageSize is the number of blobs List asks for per request when
// Options.PageSize is zero: the service's maximum.
const DefaultPageSize = 5000

// Options configures the provider. The zero value of every optional field
// is the safe default: anonymous access, HTTPS verified against the
// system roots, no proxy, pages of DefaultPageSize, the SDK's retries.
type Options struct {
	// Endpoint is the storage account's blob service URL, for example
	// "https://example.blob.core.windows.net" or, for the Azurite
	// emulator, "http://127.0.0.1:10000/devstoreaccount1". It holds no
	// user information and no query string (a SAS token goes in
	// SASToken). "http://" needs Insecure. Required.
	Endpoint string
	// Container is the container's name (a Flux Bucket's
	// spec.bucketName). Required.
	Container string

	// AccountName is the storage account the shared key belongs to. When
	// empty it is read from Endpoint: the first label of the host name
	// ("example" in example.blob.core.windows.net), or for an IP address
	// or localhost endpoint the first path segment ("devstoreaccount1").
	AccountName string
	// AccountKey is the account's base64 shared key; it signs every
	// request (Shared Key authorization).
	AccountKey string
	// SASToken is a shared access signature's query string, with or
	// without the leading "?"; it needs read and list permissions on the
	// container.
	SASToken string
	// Credential obtains Microsoft Entra ID tokens for the storage scope,
	// for example a credential of package azidentity.
	Credential azcore.TokenCredential

	// CA holds PEM certificates trusted in addition to the system roots
	// for the server's TLS certificate.
	CA []byte
	// Insecure allows an "http://" endpoint, as a Flux Bucket's
	// spec.insecure does. Off by default: HTTPS only.
	Insecure bool
	// Proxy routes the traffic through an HTTP(S) or SOCKS5 proxy; nil
	// means a direct connection (environment variables are not read).
	Proxy *bucket.Proxy

	// PageSize is the number of blobs asked for per listing request,
	// 1 to 5,000; zero means DefaultPageSize.
	PageSize int
	// MaxRetries is how many times the SDK retries a request that failed
	// with a network error, a timeout or a 408, 429, 500, 502, 503 or
	// 504 response, with exponential back-off; zero means the SDK's
	// default (3), a negative value means no retry.
	MaxRetries int
}

// Provider is the Azure Blob Storage bucket.Provider. Create it with New;
// it is safe for concurrent use.
type Provider struct {
	client    *container.Client
	container string
	where     string
	red       *source.Redactor
	pageSize  int32
}

var _ bucket.Provider = (*Provider)(nil)

// origin is the Origin of this package's errors, the same as package
// bucket's.
const origin = "bucket"

// New validates opts and returns the provider. It does not contact the
// server. Configuration errors wrap source.ErrInvalid and name fields,
// never values of credentials.
func New(opts Options) (*Provider, error) {
	red := source.NewRedactor(opts.AccountKey)
	addSAS(red, opts.SASToken)
	fail := func(format string, args ...any) error {
		return &bucket.Error{Origin: origin, Op: "configure", Subject: opts.Container, Kind: source.ErrInvalid,
			Detail: source.RedactDetail(red, stripQueries(fmt.Sprintf(format, args...)))}
	}
	if err := checkContainer(opts.Container); err != nil {
		return nil, fail("%v", err)
	}
	if opts.Endpoint == "" {
		return nil, fail("no endpoint: want the account's blob service URL, such as https://<account>.blob.core.windows.net")
	}
	u, err := url.Parse(opts.Endpoint)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fail("endpoint %q is not a URL such as https://<account>.blob.core.windows.net", source.RedactURL(opts.Endpoint))
	}
	switch {
	case u.User != nil:
		return nil, fail("endpoint %q holds user information: give credentials in AccountKey, SASToken or Credential", source.RedactURL(opts.Endpoint))
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fail("endpoint %q holds a query string: give a SAS token in SASToken", stripQueries(opts.Endpoint))
	case u.Fragment != "":
		return nil, fail("endpoint %q holds a fragment", stripQueries(opts.Endpoint))
	case u.Scheme == "https":
		if opts.Insecure {
			return nil, fail("endpoint %q asks for https but Insecure asks for plain http", u.Redacted())
		}
	case u.Scheme == "http":
		if !opts.Insecure {
			return nil, fail("endpoint %q is plain http: set Insecure to allow it", u.Redacted())
		}
	default:
		return nil, fail("endpoint scheme %q is not https or http", u.Scheme)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	where := u.String()

	n := 0
	for _, set := range []bool{opts.AccountKey != "", opts.SASToken != "", opts.Credential != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, fail("AccountKey, SASToken and Credential are alternatives: set one of them, or none for anonymous access")
	}
	if opts.AccountName != "" && opts.AccountKey == "" {
		return nil, fail("AccountName is set without AccountKey")
	}
	if opts.PageSize < 0 || opts.PageSize > DefaultPageSize {
		return nil, fail("PageSize %d is not between 1 and %d (or 0 for the default)", opts.PageSize, DefaultPageSize)
	}
	pageSize := opts.PageSize
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}

	if len(opts.CA) > 0 && opts.Insecure {
		return nil, fail("a CA certificate was given but Insecure asks for plain http")
	}
	if p := opts.Proxy; p != nil {
		red.AddURL(p.URL)
		red.AddBasicAuth(p.Username, p.Password)
	}
	tr, err := bucket.Transport(opts.CA, opts.Proxy)
	if err != nil {
		return nil, fail("%v", err)
	}

	co := &container.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport:                       &http.Client{Transport: tr},
		Retry:                           policy.RetryOptions{MaxRetries: int32(opts.MaxRetries)},
		InsecureAllowCredentialWithHTTP: opts.Insecure,
	}}
	containerURL := where + "/" + url.PathEscape(opts.Container)
	var client *container.Client
	switch {
	case opts.AccountKey != "":
		name := opts.AccountName
		if name == "" {
			if name, err = AccountName(opts.Endpoint); err != nil {
				return nil, fail("no AccountName and %v", err)
			}
		}
		cred, err := container.NewSharedKeyCredential(name, opts.AccountKey)
		if err != nil {
			return nil, fail("AccountKey is not base64")
		}
		client, err = container.NewClientWithSharedKeyCredential(containerURL, cred, co)
		if err != nil {
			return nil, fail("%v", err)
		}
	case opts.SASToken != "":
		q := strings.TrimPrefix(opts.SASToken, "?")
		v, err := url.ParseQuery(q)
		if err != nil || v.Get("sig") == "" {
			return nil, fail("SASToken is not the query string of a shared access signature (no valid 'sig' parameter)")
		}
		client, err = container.NewClientWithNoCredential(containerURL+"?"+q, co)
		if err != nil {
			return nil, fail("%v", err)
		}
	case opts.Credential != nil:
		client, err = container.NewClient(containerURL, tokenCredential{opts.Credential}, co)
		if err != nil {
			return nil, fail("%v", err)
		}
	default:
		client, err = container.NewClientWithNoCredential(containerURL, co)
		if err != nil {
			return nil, fail("%v", err)
		}
	}
	return &Provider{client: client, container: opts.Container, where: where, red: red, pageSize: int32(pageSize)}, nil
}

// String names the container and its endpoint, without credentials.
func (p *Provider) String() string { return p.container + " at " + p.where }

// List implements bucket.Provider: it pages through the container's flat
// listing, PageSize names at a time.
func (p *Provider) List(ctx context.Context, prefix string, visit func(bucket.Object) error) error {
	o := &container.ListBlobsFlatOptions{MaxResults: &p.pageSize}
	if prefix != "" {
		o.Prefix = &prefix
	}
	pager := p.client.NewListBlobsFlatPager(o)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return p.classify(ctx, "list", "", err)
		}
		if page.Segment == nil {
			continue
		}
		for _, it := range page.Segment.BlobItems {
			if it == nil || it.Name == nil {
				continue
			}
			obj := bucket.Object{Key: *it.Name, Size: -1}
			if pr := it.Properties; pr != nil {
				if pr.ETag != nil {
					obj.ETag = etag(*pr.ETag)
				}
				if pr.ContentLength != nil {
					obj.Size = *pr.ContentLength
				}
			}
			if err := visit(obj); err != nil {
				return err
			}
		}
	}
	return nil
}

// Get implements bucket.Provider.
func (p *Provider) Get(ctx context.Context, key string) (io.ReadCloser, bucket.Object, error) {
	resp, err := p.client.NewBlobClient(key).DownloadStream(ctx, nil)
	if err != nil {
		return nil, bucket.Object{}, p.classify(ctx, "get", key, err)
	}
	obj := bucket.Object{Key: key, Size: -1}
	if resp.ETag != nil {
		obj.ETag = etag(*resp.ETag)
	}
	if resp.ContentLength != nil {
		obj.Size = *resp.ContentLength
	}
	return &body{rc: resp.Body, p: p, ctx: ctx, key: key}, obj, nil
}

// body classifies the errors of a download's body.
type body struct {
	rc  io.ReadCloser
	p   *Provider
	ctx context.Context
	key string
}

func (b *body) Read(buf []byte) (int, error) {
	n, err := b.rc.Read(buf)
	if err != nil && err != io.EOF {
		err = b.p.classify(b.ctx, "get", b.key, err)
	}
	return n, err
}

func (b *body) Close() error { return b.rc.Close() }

// etag returns the form of an ETag Flux's azure provider indexes: the
// hexadecimal encoding of its text, here without surrounding quotes (the
// listing's form on Azure; downloads quote it).
func etag(e azcore.ETag) string {
	s := strings.TrimSuffix(strings.TrimPrefix(string(e), "\""), "\"")
	return hex.EncodeToString([]byte(s))
}

// tokenCredential marks the errors of a token credential, so that a
// token that cannot be obtained classifies as source.ErrAuth.
type tokenCredential struct{ azcore.TokenCredential }

func (c tokenCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.TokenCredential.GetToken(ctx, o)
	if err != nil {
		return tok, &tokenError{err: err}
	}
	return tok, nil
}

// tokenError is an error of the configured token credential.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "obtaining a token: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// authCodes are the service's error codes for a refused identity or
// permission.
var authCodes = map[string]bool{
	"AuthenticationFailed":                       true,
	"AuthorizationFailure":                       true,
	"AuthorizationPermissionMismatch":            true,
	"AuthorizationProtocolMismatch":              true,
	"AuthorizationResourceTypeMismatch":          true,
	"AuthorizationServiceMismatch":               true,
	"AuthorizationSourceIPMismatch":              true,
	"InsufficientAccountPermissions":             true,
	"InvalidAuthenticationInfo":                  true,
	"NoAuthenticationInformation":                true,
	"KeyBasedAuthenticationNotPermitted":         true,
	"PublicAccessNotPermitted":                   true,
	"ResourceNotFound_AnonymousAccessNotAllowed": true,
}

// classify turns a client error into a *bucket.Error of the matching
// kind, with every credential and URL query string masked.
func (p *Provider) classify(ctx context.Context, op, key string, err error) error {
	e := &bucket.Error{Origin: origin, Op: op, Subject: p.container, Endpoint: p.where, Key: key}
	var (
		resp   *azcore.ResponseError
		tokErr *tokenError
		netErr net.Error
	)
	msg := err.Error()
	switch {
	case ctx.Err() != nil:
		e.Kind, e.Cause, msg = source.ErrNetwork, ctx.Err(), ctx.Err().Error()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e.Kind, e.Cause = source.ErrNetwork, err
	case errors.As(err, &tokErr):
		e.Kind = source.ErrAuth
	case errors.As(err, &resp):
		// The SDK's text repeats the request URL and the response's
		// headers and body: keep the code and status.
		msg = fmt.Sprintf("%s (HTTP %d)", resp.ErrorCode, resp.StatusCode)
		switch {
		case resp.ErrorCode == "ContainerNotFound":
			e.Kind = source.ErrNotFound
		case resp.ErrorCode == "BlobNotFound":
			e.Kind = bucket.ErrObjectNotFound
		case authCodes[resp.ErrorCode], resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
			e.Kind = source.ErrAuth
		case resp.StatusCode == http.StatusNotFound && key != "":
			e.Kind = bucket.ErrObjectNotFound
		case resp.StatusCode == http.StatusNotFound:
			e.Kind = source.ErrNotFound
		}
	case errors.As(err, &netErr):
		e.Kind = source.ErrNetwork
	}
	e.Detail = source.RedactDetail(p.red, stripQueries(msg))
	return e
}

// AccountName returns the storage account an endpoint names: the first
// label of a host name with at least three labels (Azure's
// "<account>.blob.core.windows.net" and its sovereign clouds' forms), or
// the first path segment of an IP address or localhost endpoint (an
// emulator's "http://127.0.0.1:10000/<account>").
func AccountName(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("endpoint %q is not a URL", stripQueries(source.RedactURL(endpoint)))
	}
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err == nil || host == "localhost" {
		seg, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		if seg == "" {
			return "", fmt.Errorf("endpoint %q names no account: want http://%s/<account>", u.Redacted(), u.Host)
		}
		return seg, nil
	}
	labels := strings.Split(host, ".")
	if len(labels) < 3 || labels[0] == "" {
		return "", fmt.Errorf("endpoint host %q names no account: want <account>.blob.core.windows.net", host)
	}
	return labels[0], nil
}

// checkContainer checks a container name as the service does: 3 to 63
// lower-case letters, digits and single hyphens, starting and ending with
// a letter or digit; "$root", "$web" and "$logs" are the special
// containers.
func checkContainer(name string) error {
	switch name {
	case "":
		return errors.New("no container name")
	case "$root", "$web", "$logs":
		return nil
	}
	bad := len(name) < 3 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' || strings.Contains(name, "--")
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("container name %q is not 3-63 lower-case letters, digits and single hyphens starting and ending with a letter or digit", name)
	}
	return nil
}

// addSAS adds a SAS token and its signature to the redactor.
func addSAS(red *source.Redactor, sas string) {
	sas = strings.TrimPrefix(sas, "?")
	if sas == "" {
		return
	}
	red.AddSecret(sas)
	if v, err := url.ParseQuery(sas); err == nil {
		if sig := v.Get("sig"); sig != "" {
			red.AddSecret(sig)
		}
	}
}

// stripQueries removes the query string of every URL in s, where SAS
// tokens travel.
func stripQueries(s string) string {
	var b strings.Builder
	for {
		i := indexURL(s)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + strings.IndexFunc(s[i:], func(r rune) bool {
			return r == ' ' || r == '"' || r == '\'' || r == '\n' || r == '\t' || r == '>' || r == '<'
		})
		if end < i {
			end = len(s)
		}
		u := s[i:end]
		if q := strings.IndexAny(u, "?#"); q >= 0 {
			u = u[:q]
		}
		b.WriteString(s[:i])
		b.WriteString(u)
		s = s[end:]
	}
}

// indexURL returns the index of the first http or https URL in s, or -1.
func indexURL(s string) int {
	i, j := strings.Index(s, "http://"), strings.Index(s, "https://")
	switch {
	case i < 0:
		return j
	case j < 0:
		return i
	}
	return min(i, j)
}
