package bucket

import (
	"errors"
	"fmt"
	"strings"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/source/bucket"
)

// ErrNotSupported reports a spec field whose feature this controller does
// not implement yet; the object is Stalled until the field changes.
var ErrNotSupported = errors.New("not supported yet")

// Unsupported returns an error wrapping ErrNotSupported when spec asks for
// something this controller does not do: a provider other than "generic",
// "aws", "azure" and "gcp", spec.sts or spec.serviceAccountName.
func Unsupported(spec sourcev1.BucketSpec) error {
	switch spec.Provider {
	case "", sourcev1.BucketProviderGeneric, sourcev1.BucketProviderAmazon, sourcev1.BucketProviderAzure, sourcev1.BucketProviderGoogle:
	default:
		return fmt.Errorf("spec.provider '%s' is %w: use 'generic', 'aws', 'azure' or 'gcp'", spec.Provider, ErrNotSupported)
	}
	if spec.STS != nil {
		return fmt.Errorf("spec.sts is %w", ErrNotSupported)
	}
	if spec.ServiceAccountName != "" {
		return fmt.Errorf("spec.serviceAccountName is %w: use spec.secretRef", ErrNotSupported)
	}
	return nil
}

// S3Options maps the spec of a Bucket with provider "generic" or "aws" to
// bucket.S3Options without credentials, TLS or proxy (those come from
// Secrets; see Credentials). An endpoint given as "http://host" needs
// spec.insecure, as in Flux.
func S3Options(spec sourcev1.BucketSpec) bucket.S3Options {
	return bucket.S3Options{
		Endpoint: spec.Endpoint,
		Region:   spec.Region,
		Bucket:   spec.BucketName,
		Insecure: spec.Insecure,
	}
}

// Credentials sets the access key pair of o from a secretRef Secret's
// data ("accesskey" and "secretkey", as in Flux). Without a secretRef the
// bucket is read anonymously; the credential chains of the cloud
// environment are not consulted.
func Credentials(o *bucket.S3Options, data map[string][]byte) error {
	o.AccessKey = strings.TrimSpace(string(data["accesskey"]))
	o.SecretKey = strings.TrimSpace(string(data["secretkey"]))
	if o.AccessKey == "" || o.SecretKey == "" {
		return errors.New("'accesskey' and 'secretkey' must both be set")
	}
	return nil
}

// TLS sets the CA trusted for the endpoint from a certSecretRef Secret's
// data ("ca.crt"). Client certificates are refused: the S3 provider does
// not present one.
func TLS(o *bucket.S3Options, data map[string][]byte) error {
	ca, err := serverCA(data)
	if err == nil {
		o.CA = ca
	}
	return err
}

// Proxy sets the proxy of o from a proxySecretRef Secret's data.
func Proxy(o *bucket.S3Options, data map[string][]byte) error {
	p, err := proxyOf(data)
	if err == nil {
		o.Proxy = p
	}
	return err
}

// serverCA returns the CA of a certSecretRef Secret's data ("ca.crt"),
// refusing client certificates: no bucket provider presents one.
func serverCA(data map[string][]byte) ([]byte, error) {
	t, err := fluxadapter.TLSFromSecretData(data)
	if err != nil {
		return nil, err
	}
	if t.Cert != nil {
		return nil, fmt.Errorf("client certificates ('tls.crt', 'tls.key') are %w", ErrNotSupported)
	}
	return t.CA, nil
}

// proxyOf returns the proxy of a proxySecretRef Secret's data.
func proxyOf(data map[string][]byte) (*bucket.Proxy, error) {
	p, err := fluxadapter.ProxyFromSecretData(data)
	if err != nil {
		return nil, err
	}
	return &bucket.Proxy{URL: p.Address, Username: p.Username, Password: p.Password}, nil
}

// canSkip reports whether the last artifact may short-circuit the download:
// only the bucket can have changed it since (the ignore rules it was made
// with are still the spec's; a new prefix changes the revision).
func canSkip(obj *sourcev1.Bucket) bool {
	return obj.Status.Artifact != nil && fluxadapter.EqualString(obj.Status.ObservedIgnore, obj.Spec.Ignore)
}
