// Package sigstoreverify verifies the Sigstore bundles cosign v3 attaches
// to OCI artifacts, keylessly (a Fulcio certificate's OIDC identity
// against a Sigstore trusted root) or with public keys, offline: nothing
// is fetched but the bundles from the artifact's own registry, and the
// trusted root is the caller's (a trusted_root.json, as Flux's
// spec.verify.trustedRootSecretRef holds it). Its Verifier plugs into
// oci.Repository.Verify; it is built on sigstore-go, which a program
// importing source/oci alone does not link.
//
// What is looked up, as cosign v3 and Flux's source-controller do: the
// OCI 1.1 referrers of the manifest digest (the referrers API, or the
// "sha256-<hex>" referrers tag index on registries without it) whose
// artifactType is BundleMediaType; each such referrer manifest must name
// the artifact as its subject and hold one bundle layer. Referrers listed
// with the empty descriptor's type (as registries that report the config
// media type list them) are read to tell. Every read is capped: the number
// of referrers examined, each referrer manifest and each bundle, with
// their sizes checked before the download and the digests after.
//
// What is checked, as cosign verify does by default: the bundle (v0.3 or
// later) holds a DSSE envelope of an in-toto statement (payload type
// application/vnd.in-toto+json) whose subject is the artifact's very
// sha256 digest: a valid bundle for another digest is refused. `cosign
// sign` signs the predicate type CosignSignPredicateType; any predicate
// type is accepted, as cosign and Flux accept it, unless
// Options.PredicateTypes says otherwise.
//
//   - Keyless: the certificate chains to a Fulcio certificate authority of
//     the trusted root, carries an embedded SCT of a trusted CT log, its
//     subject and OIDC issuer match one of the Identities (Go regular
//     expressions, unanchored as in cosign and Flux; any entry may match,
//     as in Flux's matchOIDCIdentity), the signature is in a trusted
//     Rekor log (inclusion proof and signed entry timestamp), and the
//     certificate was valid at the log's integrated time. Bundles with
//     Rekor v2 entries only need an RFC 3161 timestamp of a trusted
//     timestamping authority instead, as in cosign. Options relax or
//     tighten each step (IgnoreTransparencyLog, IgnoreSCT,
//     SignedTimestamps).
//   - Public keys: the envelope's signature verifies with one of the keys
//     (ECDSA P-256/P-384, RSA, Ed25519 PEM public keys, as cosign.pub).
//     As in Flux, no log entry is required (KeyTransparencyLog requires
//     one). When no bundle refers to the artifact, the legacy cosign
//     "sha256-<hex>.sig" signatures are verified with the same keys
//     through cosignverify, as Flux falls back to them.
//
// Failures wrap source.ErrVerification and name the digest and, for each
// bundle examined, why it was refused; an artifact without any signature
// also wraps ErrNoSignature (the same value as cosignverify's).
//
// Not supported: legacy (.sig tag) keyless signatures, message-signature
// bundles (cosign signs OCI artifacts with DSSE statements), bundles
// whose certificate chain is inlined (v0.3 forbids it), the public-good
// instance's TUF root fetched online (pass its trusted_root.json), and
// notation signatures. The sub-package sigstoretest runs a private
// Sigstore for tests.
package sigstoreverify
