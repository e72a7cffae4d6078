// Package gcs is the Google Cloud Storage bucket.Provider, on Google's Go
// SDK (cloud.google.com/go/storage), as a Flux Bucket with provider "gcp"
// reads a bucket. It is a package of its own so that a program which only
// fetches S3-compatible buckets does not link the Google SDK, which brings
// gRPC, protocol buffers and OpenTelemetry with it: several hundred
// packages and tens of megabytes of binary.
//
//	p, err := gcs.New(ctx, gcs.Options{
//		Bucket:            "manifests",
//		ServiceAccountKey: keyJSON, // a Flux secretRef's "serviceaccount"
//	})
//	defer p.Close()
//	src := &bucket.Bucket{Provider: p, Prefix: "clusters/prod/"}
//	snap, err := src.Fetch(ctx, dir, lastRevision)
//
// The listing records each object's ETag as the JSON API reports it (the
// one Flux records), so a revision computed here equals the one a Flux
// source-controller reports for the same bucket. List pages through the
// whole listing (Options.PageSize objects per request); Get reads an
// object's attributes, then its content on the condition that its
// generation is unchanged (reading the attributes again if it changed),
// so that the ETag it returns always describes the bytes it serves. All
// requests, downloads included, go to the JSON API under Options.Endpoint,
// so a private endpoint with a base path, or an emulator, serves them all.
//
// Credentials come only from the caller, never from the environment:
// a service-account JSON key (bytes, not a file name) exchanged for
// read-only access tokens at the key's token_uri; a caller's
// oauth2.TokenSource (workload identity, a token broker); a caller's
// *http.Client that authenticates requests itself; or, only when
// Options.ApplicationDefault asks for it, Google's Application Default
// Credentials. With none of them, requests are anonymous (public
// buckets). Keys of other types than "service_account" (external-account
// configurations, which may run programs or read files named in them) are
// refused.
//
// Options.Endpoint points the provider at a private endpoint or an
// emulator (fake-gcs-server); "http://" endpoints need Insecure, and CA
// and Proxy shape the transport to both the endpoint and the token
// endpoint. The SDK's STORAGE_EMULATOR_HOST variable has no effect on a
// provider: its endpoint and credentials are always set explicitly.
//
// Errors are *bucket.Error values (source.Error) that unwrap to
// source.ErrAuth (refused credentials or token grant, 401, 403),
// source.ErrNotFound (the bucket does not exist), source.ErrNetwork,
// source.ErrInvalid (configuration) or bucket.ErrObjectNotFound. Their
// text never holds the private key, its id, a signed token request or an
// access token.
package gcs
