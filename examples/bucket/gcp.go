package bucket

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"

	"github.com/gitopskit/gitopskit/source/bucket/gcs"
)

// GCSServiceAccountKey is the key of a secretRef Secret of a Bucket with
// provider "gcp" that holds the service account's JSON key, as in Flux.
const GCSServiceAccountKey = "serviceaccount"

// gcsPublicHost is Google Cloud Storage's public endpoint, the one Flux's
// documentation puts in spec.endpoint of "gcp" Buckets.
const gcsPublicHost = "storage.googleapis.com"

// GCSOptions maps the spec of a Bucket with provider "gcp", and the data of
// its secretRef Secret (nil without a secretRef), to gcs.Options without
// TLS or proxy (see GCSTLS and GCSProxy):
//
//   - spec.bucketName is the bucket;
//   - with a secretRef, the Secret's "serviceaccount" holds the service
//     account's JSON key, as in Flux; a Secret without it is an error
//     naming the key;
//   - without a secretRef the bucket is read anonymously. Flux would use
//     the controller's workload identity there; a controller that wants
//     that sets TokenSource or ApplicationDefault on the result itself;
//   - spec.endpoint: Flux ignores it (and spec.insecure) for "gcp" and
//     always talks to storage.googleapis.com. Here an endpoint naming that
//     host, with or without scheme, port 443 or path, maps to the default
//     endpoint (so Buckets written for Flux behave the same, whatever
//     their spec.insecure), and any other endpoint is honoured, with
//     spec.insecure for "http://", so that private endpoints and
//     emulators work;
//   - spec.region is not needed (bucket names are global) and ignored, as
//     in Flux; spec.prefix and spec.ignore belong to bucket.Bucket.
func GCSOptions(spec sourcev1.BucketSpec, secret map[string][]byte) (gcs.Options, error) {
	o := gcs.Options{Bucket: spec.BucketName}
	if !isGCSPublicEndpoint(spec.Endpoint) {
		o.Endpoint, o.Insecure = spec.Endpoint, spec.Insecure
	}
	if secret == nil {
		return o, nil
	}
	key := bytes.TrimSpace(secret[GCSServiceAccountKey])
	if len(key) == 0 {
		return gcs.Options{}, fmt.Errorf("invalid secret data: required key '%s' is not set", GCSServiceAccountKey)
	}
	if key[0] != '{' {
		return gcs.Options{}, fmt.Errorf("invalid secret data: '%s' is not a JSON service-account key", GCSServiceAccountKey)
	}
	o.ServiceAccountKey = key
	return o, nil
}

// isGCSPublicEndpoint reports whether endpoint is empty or names
// storage.googleapis.com (any scheme, port 443, any path).
func isGCSPublicEndpoint(endpoint string) bool {
	e := strings.TrimSpace(endpoint)
	if e == "" {
		return true
	}
	if !strings.Contains(e, "://") {
		e = "https://" + e
	}
	u, err := url.Parse(e)
	if err != nil || u.User != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	return host == gcsPublicHost && (u.Port() == "" || u.Port() == "443")
}

// GCSTLS sets the CA trusted for the endpoint and the token endpoint from
// a certSecretRef Secret's data ("ca.crt"). Flux ignores certSecretRef for
// "gcp"; here it serves private endpoints with a private CA. Client
// certificates are refused: the GCS provider does not present one.
func GCSTLS(o *gcs.Options, data map[string][]byte) error {
	ca, err := serverCA(data)
	if err == nil {
		o.CA = ca
	}
	return err
}

// GCSProxy sets the proxy of o from a proxySecretRef Secret's data; it
// carries the token requests too, as in Flux.
func GCSProxy(o *gcs.Options, data map[string][]byte) error {
	p, err := proxyOf(data)
	if err == nil {
		o.Proxy = p
	}
	return err
}
