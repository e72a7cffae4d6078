package sigstoreverify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/cosignverify"
)

const (
	// BundleMediaType is the artifactType of the referrer manifest cosign
	// v3 attaches to a signed manifest, and the media type of its one
	// layer, the Sigstore bundle (JSON).
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// bundleMediaTypePrefix matches every bundle media type version, as
	// cosign matches them.
	bundleMediaTypePrefix = "application/vnd.dev.sigstore.bundle"
	// InTotoPayloadType is the DSSE payload type of the signed statement.
	InTotoPayloadType = "application/vnd.in-toto+json"
	// CosignSignPredicateType is the predicate type of the in-toto
	// statement `cosign sign` (v3) signs: its subject is the manifest
	// digest.
	CosignSignPredicateType = "https://sigstore.dev/cosign/sign/v1"
	// PredicateTypeAnnotation is the referrer manifest annotation cosign
	// writes with the statement's predicate type.
	PredicateTypeAnnotation = "dev.sigstore.bundle.predicateType"
	// ContentAnnotation is the referrer manifest annotation cosign writes
	// with the bundle's content kind ("dsse-envelope").
	ContentAnnotation = "dev.sigstore.bundle.content"
	// TrustedRootKey is the key of a Secret's trusted_root.json in Flux's
	// spec.verify.trustedRootSecretRef.
	TrustedRootKey = "trusted_root.json"

	// DefaultMaxReferrers caps the bundle referrers examined when
	// Options.MaxReferrers is zero.
	DefaultMaxReferrers = 32
	// DefaultMaxManifestSize caps each referrer manifest when
	// Options.MaxManifestSize is zero.
	DefaultMaxManifestSize int64 = 64 << 10
	// DefaultMaxBundleSize caps each bundle when Options.MaxBundleSize is
	// zero.
	DefaultMaxBundleSize int64 = 1 << 20
)

// ErrNoSignature is returned (wrapped, together with
// source.ErrVerification) when the artifact has no signature at all: no
// Sigstore bundle referrer and, where the legacy form is looked up, no
// cosign signature tag. It is cosignverify.ErrNoSignature, so one
// errors.Is covers both verifiers.
var ErrNoSignature = cosignverify.ErrNoSignature

// Identity is a keyless signer's identity, as a Flux
// spec.verify.matchOIDCIdentity entry: Go regular expressions matched
// (unanchored, as cosign matches them: write ^…$ to pin the whole value)
// against the Fulcio certificate's subject alternative name and OIDC
// issuer extension.
type Identity struct {
	// Subject is the regular expression for the certificate's subject
	// (an e-mail address, or a workflow URI such as
	// "https://github.com/org/repo/.github/workflows/release.yaml@refs/tags/v1.0.0").
	Subject string
	// Issuer is the regular expression for the OIDC issuer (for example
	// "https://token.actions.githubusercontent.com").
	Issuer string
}

// Options configures a Verifier. At least one of PublicKeys and
// Identities is required; Identities need TrustedRoot. The zero value of
// every other field is cosign's and Flux's default.
type Options struct {
	// PublicKeys are PEM "PUBLIC KEY" blocks, as cosign.pub holds them; a
	// bundle signed with any of them is accepted. As in Flux, a bundle
	// verified with a key needs no transparency log entry nor timestamp
	// (see KeyTransparencyLog).
	PublicKeys [][]byte
	// TrustedRoot is the Sigstore trust material keyless bundles are
	// verified against: Fulcio certificate authorities, Rekor logs,
	// certificate transparency logs, timestamping authorities. Parse a
	// trusted_root.json with ParseTrustedRoot, or pass material built in
	// code. The public-good instance's root is not fetched: pass it.
	TrustedRoot root.TrustedMaterial
	// Identities are the accepted keyless signers; a certificate matching
	// any of them is accepted.
	Identities []Identity
	// PredicateTypes, when not empty, restricts the predicate types of the
	// signed in-toto statements accepted. Empty accepts any, as cosign
	// verify and Flux do (an attestation of another kind signed by an
	// accepted signer for the same digest then counts as a signature); use
	// []string{CosignSignPredicateType} to accept `cosign sign` only.
	PredicateTypes []string
	// IgnoreTransparencyLog accepts keyless bundles without a Rekor entry
	// (cosign's --insecure-ignore-tlog): the certificate is then checked
	// at a signed timestamp (SignedTimestamps) or at the current time.
	IgnoreTransparencyLog bool
	// IgnoreSCT accepts Fulcio certificates without an embedded signed
	// certificate timestamp of a trusted CT log (cosign's
	// --insecure-ignore-sct).
	IgnoreSCT bool
	// SignedTimestamps requires an RFC 3161 timestamp of a trusted
	// timestamping authority on keyless bundles (cosign's
	// --use-signed-timestamps). It is required anyway, as cosign requires
	// it, for a bundle whose only log entries are Rekor v2's, which carry
	// no integrated time.
	SignedTimestamps bool
	// KeyTransparencyLog also requires, for bundles verified with a public
	// key, a Rekor entry of TrustedRoot (cosign's default for keys; Flux
	// does not check the log when verifying with keys).
	KeyTransparencyLog bool
	// NoLegacySignatures stops the fallback to cosign's legacy
	// "sha256-<hex>.sig" tag (see cosignverify) when the artifact has no
	// bundle. The fallback applies to PublicKeys only: legacy keyless
	// signatures are not read.
	NoLegacySignatures bool
	// MaxReferrers caps the bundle referrers examined; 0 means
	// DefaultMaxReferrers.
	MaxReferrers int
	// MaxManifestSize caps each referrer manifest, in bytes; 0 means
	// DefaultMaxManifestSize.
	MaxManifestSize int64
	// MaxBundleSize caps each bundle, in bytes; 0 means
	// DefaultMaxBundleSize.
	MaxBundleSize int64
}

// Verifier verifies the Sigstore bundles attached to an OCI artifact, and
// optionally its legacy cosign signatures. It implements oci.Verifier.
// Build it with New; it is safe for concurrent use.
type Verifier struct {
	opts       Options
	keys       []crypto.PublicKey
	keyMats    []root.TrustedMaterial
	identities []verify.CertificateIdentity
	legacy     *cosignverify.Verifier
}

var _ oci.Verifier = (*Verifier)(nil)

// ParseTrustedRoot parses a Sigstore trusted_root.json (the
// dev.sigstore.trustedroot media type, as `cosign trusted-root create`
// writes it or a TUF repository serves it).
func ParseTrustedRoot(data []byte) (tr *root.TrustedRoot, err error) {
	defer func() {
		if r := recover(); r != nil {
			tr, err = nil, fmt.Errorf("invalid trusted root: parser panic: %v", r)
		}
	}()
	tr, err = root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("invalid trusted root: %w", err)
	}
	return tr, nil
}

// New checks opts and returns a Verifier.
func New(opts Options) (*Verifier, error) {
	v := &Verifier{opts: opts}
	for i, data := range opts.PublicKeys {
		keys, err := cosignverify.ParsePublicKeys(data)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		v.keys = append(v.keys, keys...)
	}
	for _, k := range v.keys {
		m, err := keyMaterial(k, opts.TrustedRoot)
		if err != nil {
			return nil, err
		}
		v.keyMats = append(v.keyMats, m...)
	}
	for i, id := range opts.Identities {
		if id.Subject == "" || id.Issuer == "" {
			return nil, fmt.Errorf("identity %d: both subject and issuer regular expressions are required", i)
		}
		if _, err := regexp.Compile(id.Subject); err != nil {
			return nil, fmt.Errorf("identity %d: invalid subject regular expression: %w", i, err)
		}
		if _, err := regexp.Compile(id.Issuer); err != nil {
			return nil, fmt.Errorf("identity %d: invalid issuer regular expression: %w", i, err)
		}
		ci, err := verify.NewShortCertificateIdentity("", id.Issuer, "", id.Subject)
		if err != nil {
			return nil, fmt.Errorf("identity %d: %w", i, err)
		}
		v.identities = append(v.identities, ci)
	}
	switch {
	case len(v.keys) == 0 && len(v.identities) == 0:
		return nil, errors.New("neither a public key nor a keyless identity given")
	case len(v.identities) > 0 && opts.TrustedRoot == nil:
		return nil, errors.New("keyless identities need a trusted root")
	case opts.KeyTransparencyLog && opts.TrustedRoot == nil:
		return nil, errors.New("checking the transparency log for keys needs a trusted root")
	}
	if len(v.keys) > 0 && !opts.NoLegacySignatures {
		legacy, err := cosignverify.New(opts.PublicKeys...)
		if err != nil {
			return nil, err
		}
		v.legacy = legacy
	}
	return v, nil
}

// Verify looks up the Sigstore bundles referring to target.Digest (OCI
// 1.1 referrers API, or the "sha256-<hex>" referrers tag where the
// registry lacks it) and returns nil when one of them is valid for a key
// or identity and signs that very digest. Without any bundle it falls back
// to the legacy cosign signature tag for public keys (unless
// NoLegacySignatures). Otherwise it returns an error wrapping
// source.ErrVerification that names the digest, and also ErrNoSignature
// when nothing was signed at all.
func (v *Verifier) Verify(ctx context.Context, target oci.VerifyTarget) error {
	if err := v.verify(ctx, target); err != nil {
		return &verifyError{digest: target.Digest, err: err}
	}
	return nil
}

func (v *Verifier) verify(ctx context.Context, target oci.VerifyTarget) error {
	ref, err := name.NewDigest(target.Reference)
	if err != nil {
		return fmt.Errorf("invalid reference: %w", err)
	}
	if ref.DigestStr() != target.Digest {
		return fmt.Errorf("reference %s does not hold digest %s", ref.DigestStr(), target.Digest)
	}
	digest, err := v1.NewHash(target.Digest)
	if err != nil || digest.Algorithm != "sha256" {
		return fmt.Errorf("digest algorithm of %s is not supported", target.Digest)
	}
	opts := append(append([]remote.Option{}, target.Remote...), remote.WithContext(ctx))
	idx, err := remote.Referrers(ref, opts...)
	if err != nil {
		return fmt.Errorf("list referrers: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("list referrers: %w", err)
	}
	var problems []string
	seen := 0
	for _, desc := range im.Manifests {
		if !maybeBundle(desc.ArtifactType) {
			continue
		}
		if seen++; seen > v.maxReferrers() {
			problems = append(problems, fmt.Sprintf("more than %d referrers that may be bundles, the rest not examined", v.maxReferrers()))
			break
		}
		err := v.checkReferrer(ref.Context(), desc, digest, opts)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errNotBundle) {
			seen--
			continue
		}
		problems = append(problems, fmt.Sprintf("bundle %s: %s", desc.Digest, oneLine(err.Error())))
	}
	if seen > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	if v.legacy == nil {
		if len(v.keys) > 0 {
			return fmt.Errorf("no Sigstore bundle refers to the artifact, legacy signatures not looked up (%w)", ErrNoSignature)
		}
		if _, err := remote.Head(ref.Context().Tag(cosignverify.SignatureTag(target.Digest)), opts...); err == nil {
			return errors.New("no Sigstore bundle refers to the artifact, and its legacy cosign signature tag is not read for keyless verification: sign with cosign v3 (bundles)")
		}
		return fmt.Errorf("no Sigstore bundle refers to the artifact (%w)", ErrNoSignature)
	}
	if err := v.legacy.Verify(ctx, target); err != nil {
		if errors.Is(err, cosignverify.ErrNoSignature) {
			return fmt.Errorf("no Sigstore bundle refers to the artifact and no cosign signature tag (%w)", ErrNoSignature)
		}
		msg := strings.TrimPrefix(err.Error(), "cosign verification of "+target.Digest+" failed: ")
		return fmt.Errorf("no Sigstore bundle refers to the artifact; legacy cosign signatures: %s", msg)
	}
	return nil
}

// emptyMediaType is the OCI empty descriptor's media type, the config of
// artifacts such as bundles.
const emptyMediaType = "application/vnd.oci.empty.v1+json"

// errNotBundle marks a referrer that turns out not to be a bundle.
var errNotBundle = errors.New("not a Sigstore bundle")

// maybeBundle reports whether a referrer of this artifactType may be a
// bundle: a bundle type, or what registries that report the config's media
// type instead of the manifest's artifactType list for it (empty or the
// empty descriptor's type); those are read to be sure.
func maybeBundle(artifactType string) bool {
	return strings.HasPrefix(artifactType, bundleMediaTypePrefix) || artifactType == "" || artifactType == emptyMediaType
}

// checkReferrer reads the referrer manifest desc and its bundle, and
// verifies the bundle against digest.
func (v *Verifier) checkReferrer(repo name.Repository, desc v1.Descriptor, digest v1.Hash, opts []remote.Option) error {
	if desc.Size <= 0 || desc.Size > v.maxManifest() {
		return fmt.Errorf("manifest of %d bytes is outside the cap of %d", desc.Size, v.maxManifest())
	}
	got, err := remote.Get(repo.Digest(desc.Digest.String()), opts...)
	if err != nil {
		return fmt.Errorf("read manifest: %w", err)
	}
	if int64(len(got.Manifest)) != desc.Size {
		return fmt.Errorf("manifest of %d bytes, the referrers list says %d", len(got.Manifest), desc.Size)
	}
	m, err := v1.ParseManifest(strings.NewReader(string(got.Manifest)))
	if err != nil {
		return fmt.Errorf("invalid manifest: %w", err)
	}
	if m.Subject == nil || m.Subject.Digest != digest {
		return errors.New("manifest's subject is not the artifact")
	}
	if !strings.HasPrefix(desc.ArtifactType, bundleMediaTypePrefix) && !strings.HasPrefix(m.ArtifactType, bundleMediaTypePrefix) &&
		!strings.HasPrefix(m.Config.ArtifactType, bundleMediaTypePrefix) {
		return errNotBundle
	}
	if len(m.Layers) != 1 || !strings.HasPrefix(string(m.Layers[0].MediaType), bundleMediaTypePrefix) {
		return errors.New("manifest does not hold exactly one bundle layer")
	}
	data, err := v.readBundle(repo, m.Layers[0], opts)
	if err != nil {
		return err
	}
	b, err := parseBundle(data)
	if err != nil {
		return err
	}
	return v.checkBundle(b, digest)
}

// readBundle reads the bundle blob, capped and digest-checked.
func (v *Verifier) readBundle(repo name.Repository, desc v1.Descriptor, opts []remote.Option) ([]byte, error) {
	if desc.Size <= 0 || desc.Size > v.maxBundle() {
		return nil, fmt.Errorf("bundle of %d bytes is outside the cap of %d", desc.Size, v.maxBundle())
	}
	layer, err := remote.Layer(repo.Digest(desc.Digest.String()), opts...)
	if err != nil {
		return nil, fmt.Errorf("read bundle: %w", err)
	}
	rc, err := layer.Compressed() // checks the blob's digest at its end
	if err != nil {
		return nil, fmt.Errorf("read bundle: %w", err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, desc.Size+1))
	if err != nil {
		return nil, fmt.Errorf("read bundle: %w", err)
	}
	if int64(len(data)) != desc.Size {
		return nil, fmt.Errorf("bundle of %d bytes, the manifest says %d", len(data), desc.Size)
	}
	return data, nil
}

// parseBundle parses a bundle's JSON, recovering a parser panic.
func parseBundle(data []byte) (b *bundle.Bundle, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("invalid bundle: parser panic: %v", r)
		}
	}()
	b = &bundle.Bundle{}
	if err := b.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("invalid bundle: %w", err)
	}
	if !b.MinVersion("v0.3") {
		return nil, errors.New("bundle version is older than v0.3")
	}
	return b, nil
}

// checkBundle verifies b with the keys, then the identities, and checks
// that its statement signs digest.
func (v *Verifier) checkBundle(b *bundle.Bundle, digest v1.Hash) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("verifier panic: %v", r)
		}
	}()
	env, err := b.Envelope()
	if err != nil || env == nil {
		return errors.New("bundle does not hold a DSSE envelope (an in-toto statement)")
	}
	if env.PayloadType != InTotoPayloadType {
		return fmt.Errorf("DSSE payload type %q is not %q", truncate(env.PayloadType), InTotoPayloadType)
	}
	raw, _ := hex.DecodeString(digest.Hex)
	artifact := verify.WithArtifactDigest("sha256", raw)
	vc, err := b.VerificationContent()
	if err != nil {
		return fmt.Errorf("invalid verification material: %w", err)
	}
	var problems []string
	if vc.Certificate() == nil {
		if len(v.keyMats) == 0 {
			return errors.New("bundle is signed with a key, and no public key is configured")
		}
		for _, m := range v.keyMats {
			res, err := v.verifyWith(b, m, v.keyOptions(), verify.NewPolicy(artifact, verify.WithKey()))
			if err == nil {
				return v.checkStatement(res, digest)
			}
			problems = append(problems, err.Error())
		}
		return fmt.Errorf("signature does not match any of the public keys: %s", problems[len(problems)-1])
	}
	if len(v.identities) == 0 {
		return errors.New("bundle is signed keylessly (a certificate), and no keyless identity is configured")
	}
	policy := []verify.PolicyOption{}
	for _, id := range v.identities {
		policy = append(policy, verify.WithCertificateIdentity(id))
	}
	res, err := v.verifyWith(b, v.opts.TrustedRoot, v.keylessOptions(b), verify.NewPolicy(artifact, policy...))
	if err != nil {
		return err
	}
	return v.checkStatement(res, digest)
}

func (v *Verifier) verifyWith(b *bundle.Bundle, tm root.TrustedMaterial, opts []verify.VerifierOption, p verify.PolicyBuilder) (*verify.VerificationResult, error) {
	sv, err := verify.NewVerifier(tm, opts...)
	if err != nil {
		return nil, err
	}
	return sv.Verify(b, p)
}

// keyOptions are cosign's verifier options for a key.
func (v *Verifier) keyOptions() []verify.VerifierOption {
	if v.opts.KeyTransparencyLog {
		return []verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithNoObserverTimestamps()}
	}
	return []verify.VerifierOption{verify.WithNoObserverTimestamps()}
}

// keylessOptions are cosign's verifier options for a certificate.
func (v *Verifier) keylessOptions(b *bundle.Bundle) []verify.VerifierOption {
	var opts []verify.VerifierOption
	if !v.opts.IgnoreSCT {
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	signed := v.opts.SignedTimestamps
	if !v.opts.IgnoreTransparencyLog && !signed && onlyRekorV2(b) {
		signed = true
	}
	if !v.opts.IgnoreTransparencyLog {
		opts = append(opts, verify.WithTransparencyLog(1))
		if !signed {
			opts = append(opts, verify.WithIntegratedTimestamps(1))
		}
	}
	if signed {
		opts = append(opts, verify.WithSignedTimestamps(1))
	}
	if v.opts.IgnoreTransparencyLog && !signed {
		opts = append(opts, verify.WithCurrentTime())
	}
	return opts
}

// onlyRekorV2 reports whether every log entry of b is a Rekor v2 one
// (no integrated time), as cosign decides to require a signed timestamp.
func onlyRekorV2(b *bundle.Bundle) bool {
	entries, err := b.TlogEntries()
	if err != nil || len(entries) == 0 {
		return false
	}
	for _, e := range entries {
		if !e.IntegratedTime().IsZero() {
			return false
		}
	}
	return true
}

// checkStatement checks the verified statement's subject and predicate
// type (sigstore-go has checked the subject digest too; this names what
// is wrong).
func (v *Verifier) checkStatement(res *verify.VerificationResult, digest v1.Hash) error {
	st := res.Statement
	if st == nil {
		return errors.New("bundle holds no in-toto statement")
	}
	if len(v.opts.PredicateTypes) > 0 {
		ok := false
		for _, t := range v.opts.PredicateTypes {
			ok = ok || st.GetPredicateType() == t
		}
		if !ok {
			return fmt.Errorf("statement predicate type %q is not accepted", truncate(st.GetPredicateType()))
		}
	}
	for _, s := range st.GetSubject() {
		if s.GetDigest()["sha256"] == digest.Hex {
			return nil
		}
	}
	return errors.New("statement does not name the artifact's digest as its subject")
}

// keyMaterial is the trust material for one public key: the key for any
// hint, and the logs of tr (when set) for KeyTransparencyLog. A P-384 key
// gets a second one over SHA-256, as cosign verifies such keys either way.
func keyMaterial(k crypto.PublicKey, tr root.TrustedMaterial) ([]root.TrustedMaterial, error) {
	sv, err := signature.LoadDefaultVerifier(k)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	verifiers := []signature.Verifier{sv}
	if ec, ok := k.(*ecdsa.PublicKey); ok && ec.Curve == elliptic.P384() {
		sha256v, err := signature.LoadVerifier(k, crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		verifiers = append(verifiers, sha256v)
	}
	if tr == nil {
		tr = &root.BaseTrustedMaterial{}
	}
	var out []root.TrustedMaterial
	for _, sv := range verifiers {
		out = append(out, &keyTrust{TrustedMaterial: tr, key: root.NewExpiringKey(sv, time.Time{}, time.Time{})})
	}
	return out, nil
}

// keyTrust returns its key for every hint, as cosign does for a key given
// on the command line.
type keyTrust struct {
	root.TrustedMaterial
	key *root.ExpiringKey
}

func (k *keyTrust) PublicKeyVerifier(string) (root.TimeConstrainedVerifier, error) {
	return k.key, nil
}

func (v *Verifier) maxReferrers() int {
	if v.opts.MaxReferrers > 0 {
		return v.opts.MaxReferrers
	}
	return DefaultMaxReferrers
}

func (v *Verifier) maxManifest() int64 {
	if v.opts.MaxManifestSize > 0 {
		return v.opts.MaxManifestSize
	}
	return DefaultMaxManifestSize
}

func (v *Verifier) maxBundle() int64 {
	if v.opts.MaxBundleSize > 0 {
		return v.opts.MaxBundleSize
	}
	return DefaultMaxBundleSize
}

// oneLine joins the lines of a multi-line error text.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), "; ")
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// verifyError names the digest and unwraps to source.ErrVerification and
// to the cause.
type verifyError struct {
	digest string
	err    error
}

func (e *verifyError) Error() string {
	return fmt.Sprintf("Sigstore verification of %s failed: %v", e.digest, e.err)
}

func (e *verifyError) Unwrap() []error { return []error{source.ErrVerification, e.err} }
