// Package sigstoretest runs a private, offline Sigstore for tests: a
// Fulcio-like certificate authority issuing short-lived certificates for
// an OIDC identity and issuer with an embedded signed certificate
// timestamp of its own certificate transparency log, a Rekor-like log
// (sigstore-go's virtual one) recording each signature with an inclusion
// proof and a signed entry timestamp, and a timestamping authority. It
// signs OCI manifest digests as `cosign sign` v3 does (a DSSE envelope of
// an in-toto statement whose subject is the digest), keylessly or with a
// key, writes the Sigstore bundle and attaches it to the manifest in an
// ocitest registry as cosign does; TrustedRootJSON is the
// trusted_root.json a verifier is given.
package sigstoretest
