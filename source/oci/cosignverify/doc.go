// Package cosignverify verifies cosign signatures of OCI artifacts with
// public keys, fully offline: no transparency log, no certificate
// authority, no network access beyond the artifact's own registry. Its
// Verifier plugs into oci.Repository.Verify; a program that does not
// verify does not link this package, and it uses only the standard
// library's cryptography (no Sigstore library).
//
// It reads the signature format cosign writes by default up to v2: the
// signatures of manifest "sha256:<hex>" are the layers of an artifact
// tagged "sha256-<hex>.sig" in the same repository. Each layer of media
// type application/vnd.dev.cosign.simplesigning.v1+json is a
// simple-signing payload (JSON whose critical.type is "cosign container
// image signature" and critical.image.docker-manifest-digest the signed
// digest) and carries its base64 signature over the payload bytes in the
// annotation "dev.cosignproject.cosign/signature". The artifact is
// verified when one such layer has a signature valid for one of the keys
// and signs the artifact's very digest: a valid signature of another
// digest is refused.
//
// Keys are PEM "PUBLIC KEY" blocks, as cosign.pub holds: ECDSA P-256
// (SHA-256) or P-384 (SHA-384 or SHA-256), RSA of at least 2048 bits
// (PKCS#1 v1.5 or PSS over SHA-256), Ed25519. Encrypted cosign private
// keys and KMS references are not read.
//
// Keyless verification (certificate identity and issuer, transparency log)
// and the Sigstore bundles cosign v3 attaches through the OCI 1.1
// referrers API are verified by source/oci/sigstoreverify, which falls
// back to this package for legacy signatures. Failures wrap source.ErrVerification and name the digest;
// an artifact without any signature also wraps ErrNoSignature.
package cosignverify
