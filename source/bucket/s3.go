package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/gitopskit/gitopskit/source"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// S3Options configures the S3-compatible provider (Amazon S3, MinIO,
// versitygw, Ceph RGW, ...), as a Flux Bucket with provider "generic"
// configures it. The zero value of every optional field is the safe
// default: anonymous access, HTTPS verified against the system roots, no
// proxy.
type S3Options struct {
	// Endpoint is the server's host[:port], for example
	// "s3.amazonaws.com" or "minio.example.com:9000". An "https://"
	// prefix is accepted; "http://" is accepted only with Insecure.
	Endpoint string
	// Region is the bucket's region; empty lets the client ask the server.
	Region string
	// Bucket is the bucket name. Required.
	Bucket string
	// AccessKey and SecretKey sign requests (AWS Signature Version 4).
	// Both empty means anonymous access.
	AccessKey, SecretKey string
	// SessionToken accompanies temporary credentials; optional.
	SessionToken string
	// CA holds PEM certificates trusted in addition to the system roots
	// for the server's TLS certificate.
	CA []byte
	// Insecure talks plain HTTP to the endpoint, as a Flux Bucket's
	// spec.insecure does. Off by default: HTTPS only.
	Insecure bool
	// Proxy routes the traffic through an HTTP(S) or SOCKS5 proxy; nil
	// means a direct connection (environment variables are not read).
	Proxy *Proxy
}

// Proxy is a proxy for the provider's traffic.
type Proxy struct {
	// URL is the proxy address, for example "http://proxy:3128" or
	// "socks5://proxy:1080".
	URL string
	// Username and Password authenticate to the proxy, if set.
	Username, Password string
}

// S3 is the S3-compatible Provider. Create it with NewS3; it is safe for
// concurrent use.
type S3 struct {
	client *minio.Client
	core   *minio.Core
	bucket string
	where  string
	red    *source.Redactor
}

var _ Provider = (*S3)(nil)

// NewS3 validates opts and returns the provider. It does not contact the
// server. Configuration errors wrap source.ErrInvalid and name fields,
// never values of credentials.
func NewS3(opts S3Options) (*S3, error) {
	red := source.NewRedactor(opts.SecretKey, opts.SessionToken)
	fail := func(format string, args ...any) error {
		return &Error{Origin: origin, Op: "configure", Subject: opts.Bucket, Kind: source.ErrInvalid,
			Detail: red.Redact(fmt.Sprintf(format, args...))}
	}
	if opts.Bucket == "" {
		return nil, fail("no bucket name")
	}
	if err := s3utils.CheckValidBucketName(opts.Bucket); err != nil {
		return nil, fail("bucket name %q: %v", opts.Bucket, err)
	}
	endpoint := opts.Endpoint
	switch {
	case strings.HasPrefix(endpoint, "https://"):
		endpoint = strings.TrimPrefix(endpoint, "https://")
		if opts.Insecure {
			return nil, fail("endpoint %q asks for https but Insecure asks for plain http", source.RedactURL(opts.Endpoint))
		}
	case strings.HasPrefix(endpoint, "http://"):
		endpoint = strings.TrimPrefix(endpoint, "http://")
		if !opts.Insecure {
			return nil, fail("endpoint %q is plain http: set Insecure to allow it", source.RedactURL(opts.Endpoint))
		}
	}
	endpoint = strings.TrimSuffix(endpoint, "/")
	if endpoint == "" || strings.ContainsAny(endpoint, "/@ ") {
		return nil, fail("endpoint %q is not a host[:port]", source.RedactURL(opts.Endpoint))
	}
	if (opts.AccessKey == "") != (opts.SecretKey == "") {
		return nil, fail("an access key and a secret key go together: set both or neither")
	}
	if opts.SessionToken != "" && opts.AccessKey == "" {
		return nil, fail("a session token needs an access key and a secret key")
	}
	if len(opts.CA) > 0 && opts.Insecure {
		return nil, fail("a CA certificate was given but Insecure asks for plain http")
	}
	if p := opts.Proxy; p != nil {
		red.AddURL(p.URL)
		red.AddBasicAuth(p.Username, p.Password)
	}
	tr, err := Transport(opts.CA, opts.Proxy)
	if err != nil {
		return nil, fail("%v", err)
	}
	var creds *credentials.Credentials
	if opts.AccessKey != "" {
		creds = credentials.NewStaticV4(opts.AccessKey, opts.SecretKey, opts.SessionToken)
	} else {
		creds = credentials.NewStatic("", "", "", credentials.SignatureAnonymous)
	}
	mo := &minio.Options{Creds: creds, Secure: !opts.Insecure, Region: opts.Region, Transport: tr}
	client, err := minio.New(endpoint, mo)
	if err != nil {
		return nil, fail("%v", err)
	}
	scheme := "https"
	if opts.Insecure {
		scheme = "http"
	}
	return &S3{
		client: client,
		core:   &minio.Core{Client: client},
		bucket: opts.Bucket,
		where:  scheme + "://" + endpoint,
		red:    red,
	}, nil
}

// String names the bucket and its endpoint, without credentials.
func (s *S3) String() string { return s.bucket + " at " + s.where }

// List implements Provider. Pages of up to 1,000 keys are requested until
// the listing is complete.
func (s *S3) List(ctx context.Context, prefix string, visit func(Object) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine when visit fails
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return s.classify(ctx, "list", "", o.Err)
		}
		if err := visit(Object{Key: o.Key, ETag: trimETag(o.ETag), Size: o.Size}); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return s.classify(ctx, "list", "", err)
	}
	return nil
}

// Get implements Provider.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, Object, error) {
	rc, info, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, Object{}, s.classify(ctx, "get", key, err)
	}
	return &s3Body{rc: rc, s: s, ctx: ctx, key: key}, Object{Key: key, ETag: trimETag(info.ETag), Size: info.Size}, nil
}

// s3Body classifies the errors of a download's body.
type s3Body struct {
	rc  io.ReadCloser
	s   *S3
	ctx context.Context
	key string
}

func (b *s3Body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		err = b.s.classify(b.ctx, "get", b.key, err)
	}
	return n, err
}

func (b *s3Body) Close() error { return b.rc.Close() }

func trimETag(e string) string {
	return strings.TrimSuffix(strings.TrimPrefix(e, "\""), "\"")
}

// classify turns a client error into an *Error of the matching kind, with
// every credential masked.
func (s *S3) classify(ctx context.Context, op, key string, err error) error {
	e := &Error{Origin: origin, Op: op, Subject: s.bucket, Endpoint: s.where, Key: key}
	resp := minio.ToErrorResponse(err)
	var netErr net.Error
	switch {
	case ctx.Err() != nil:
		e.Kind, e.Cause = source.ErrNetwork, ctx.Err()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e.Kind, e.Cause = source.ErrNetwork, err
	case resp.Code == "NoSuchBucket":
		e.Kind = source.ErrNotFound
	case resp.Code == "NoSuchKey":
		e.Kind = ErrObjectNotFound
	case resp.StatusCode == http.StatusForbidden, resp.StatusCode == http.StatusUnauthorized,
		resp.Code == "AccessDenied", resp.Code == "SignatureDoesNotMatch", resp.Code == "InvalidAccessKeyId",
		resp.Code == "ExpiredToken", resp.Code == "InvalidToken", resp.Code == "InvalidSecurity",
		resp.Code == "XAdminUserNotFound": // versitygw: unknown access key
		e.Kind = source.ErrAuth
	case resp.StatusCode == http.StatusNotFound && key == "" && resp.Code == "":
		e.Kind = source.ErrNotFound
	case errors.As(err, &netErr):
		e.Kind = source.ErrNetwork
	}
	msg := err.Error()
	if resp.Code != "" && !strings.Contains(msg, resp.Code) {
		msg = resp.Code + ": " + msg
	}
	e.Detail = source.RedactDetail(s.red, msg)
	return e
}
