// Package oci is the OCI artifact source: it fetches a Flux-compatible OCI
// artifact from a container registry into a directory, and packs a
// directory and pushes it as one.
//
// A Repository names an address ("oci://host[:port]/path") and a Reference
// (a tag, "latest" by default; a semver range over the tags, after an
// optional regular-expression filter; or a manifest digest, with Flux's
// precedence digest > semver > tag). Its Fetch implements source.Fetcher:
// it resolves the manifest digest with one HEAD request (a GET of the
// manifest when HEAD is refused), returns source.ErrUnchanged when the
// revision ("<tag>@sha256:<hex>", or "sha256:<hex>" for a digest) equals
// the last one, and otherwise downloads the selected layer, verifying its
// digest and size while it streams, and extracts it (a tar+gzip layer,
// through artifact.Unpack and its caps) or copies it as it is.
//
// A Client holds how to reach a registry: static credentials (basic, an
// identity token or a registry bearer token), a Keychain (a Docker config,
// as in a dockerconfigjson Secret, through KeychainFromDockerConfig, or a
// cloud login), TLS (a CA, a client certificate), a proxy (HTTP or HTTPS,
// with CONNECT for HTTPS registries, or SOCKS5; credentials in its URL),
// and Insecure for plain HTTP, which is refused otherwise. Tag lists are
// capped in count and bytes, as manifests are in size. Client.Push packs a
// directory (artifact.Pack) and pushes it with Flux's config and content
// media types and the OCI source, revision and created annotations, which
// Flux's tools read; Tag, ListTags and Resolve complete it.
//
// Errors are *Error values that unwrap to the source sentinels; their text
// names the reference and never holds credentials.
//
// Signature verification is a hook: a Verifier set on the Repository is
// called with the resolved digest before anything is downloaded. The
// cosignverify package provides one for cosign's legacy signatures with
// public keys, on the standard library; the sigstoreverify package one for
// the Sigstore bundles cosign v3 attaches through the OCI 1.1 referrers API,
// keyless (certificate identity against a trusted root) or with public
// keys. This package links neither.
//
// The ocitest package runs an in-process registry for tests.
package oci
