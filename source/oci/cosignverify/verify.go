package cosignverify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/oci"
)

const (
	// SimpleSigningMediaType is the media type of a signature layer: a
	// simple-signing payload.
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// SignatureAnnotation is the layer annotation holding the base64
	// signature over the layer's payload.
	SignatureAnnotation = "dev.cosignproject.cosign/signature"
	// SignatureType is the payload's critical.type.
	SignatureType = "cosign container image signature"
	// DefaultMaxPayloadSize caps a signature payload when
	// Verifier.MaxPayloadSize is zero.
	DefaultMaxPayloadSize int64 = 256 << 10
	// DefaultMaxSignatures caps the signature layers examined when
	// Verifier.MaxSignatures is zero.
	DefaultMaxSignatures = 64
)

// ErrNoSignature is returned (wrapped, together with
// source.ErrVerification) when the artifact has no signature at all.
var ErrNoSignature = errors.New("no cosign signature found")

// Verifier checks cosign signatures made with one of its public keys. It
// implements oci.Verifier. Build it with New; it is safe for concurrent
// use.
type Verifier struct {
	keys []crypto.PublicKey
	// MaxPayloadSize caps each signature payload, in bytes; 0 means
	// DefaultMaxPayloadSize.
	MaxPayloadSize int64
	// MaxSignatures caps the signature layers examined; 0 means
	// DefaultMaxSignatures.
	MaxSignatures int
}

var _ oci.Verifier = (*Verifier)(nil)

// New returns a Verifier that accepts a signature made with any of the
// keys. Each element holds one or more PEM "PUBLIC KEY" blocks (PKIX, as
// `cosign generate-key-pair` writes cosign.pub): ECDSA P-256 or P-384, RSA
// or Ed25519. At least one key is required.
func New(pemKeys ...[]byte) (*Verifier, error) {
	v := &Verifier{}
	for i, data := range pemKeys {
		keys, err := ParsePublicKeys(data)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		v.keys = append(v.keys, keys...)
	}
	if len(v.keys) == 0 {
		return nil, errors.New("no public key given")
	}
	return v, nil
}

// ParsePublicKeys returns the public keys of the PEM "PUBLIC KEY" blocks in
// data. Other block types, and text between blocks, are refused.
func ParsePublicKeys(data []byte) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	rest := bytes.TrimSpace(data)
	for len(rest) > 0 {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("not a PEM public key")
		}
		rest = bytes.TrimSpace(rest)
		if b.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("PEM block %q is not a PUBLIC KEY", b.Type)
		}
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse public key: %w", err)
		}
		switch k := k.(type) {
		case *ecdsa.PublicKey:
			if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
				return nil, fmt.Errorf("ECDSA curve %s is not supported", k.Curve.Params().Name)
			}
		case *rsa.PublicKey:
			if k.N.BitLen() < 2048 {
				return nil, fmt.Errorf("RSA key of %d bits is too small", k.N.BitLen())
			}
		case ed25519.PublicKey:
		default:
			return nil, fmt.Errorf("public key type %T is not supported", k)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM public key")
	}
	return keys, nil
}

// SignatureTag returns the tag under which cosign stores the signatures of
// a manifest digest "sha256:<hex>": "sha256-<hex>.sig".
func SignatureTag(digest string) string {
	return strings.Replace(digest, ":", "-", 1) + ".sig"
}

// Verify looks up the signatures of target.Digest under its signature tag
// in the same repository and returns nil when one of them is valid for
// one of the keys and signs that very digest. Otherwise it returns an
// error wrapping source.ErrVerification that names the digest.
func (v *Verifier) Verify(ctx context.Context, target oci.VerifyTarget) error {
	err := v.verify(ctx, target)
	if err != nil {
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
	if !strings.HasPrefix(target.Digest, "sha256:") {
		return fmt.Errorf("digest algorithm of %s is not supported", target.Digest)
	}
	opts := append(append([]remote.Option{}, target.Remote...), remote.WithContext(ctx))
	sigRef := ref.Context().Tag(SignatureTag(target.Digest))
	img, err := remote.Image(sigRef, opts...)
	if err != nil {
		if isNotFound(err) {
			return ErrNoSignature
		}
		return fmt.Errorf("read signatures %s: %w", sigRef.TagStr(), err)
	}
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("read signatures %s: %w", sigRef.TagStr(), err)
	}
	max := v.MaxSignatures
	if max <= 0 {
		max = DefaultMaxSignatures
	}
	var problems []string
	seen := 0
	for _, l := range m.Layers {
		if l.MediaType != SimpleSigningMediaType {
			continue
		}
		if seen++; seen > max {
			problems = append(problems, fmt.Sprintf("more than %d signatures, the rest not examined", max))
			break
		}
		err := v.checkLayer(img, l, target.Digest)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		problems = append(problems, fmt.Sprintf("signature %s: %v", l.Digest, err))
	}
	if seen == 0 {
		return ErrNoSignature
	}
	return errors.New(strings.Join(problems, "; "))
}

// checkLayer verifies one signature layer against digest.
func (v *Verifier) checkLayer(img v1.Image, desc v1.Descriptor, digest string) error {
	sig, err := DecodeSignature(desc.Annotations[SignatureAnnotation])
	if err != nil {
		return err
	}
	max := v.MaxPayloadSize
	if max <= 0 {
		max = DefaultMaxPayloadSize
	}
	if desc.Size < 0 || desc.Size > max {
		return fmt.Errorf("payload of %d bytes exceeds the cap of %d", desc.Size, max)
	}
	layer, err := img.LayerByDigest(desc.Digest)
	if err != nil {
		return err
	}
	rc, err := layer.Compressed() // verifies the blob's digest while reading
	if err != nil {
		return err
	}
	defer rc.Close()
	payload, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return fmt.Errorf("read payload: %w", err)
	}
	if int64(len(payload)) != desc.Size {
		return fmt.Errorf("payload of %d bytes, the manifest says %d", len(payload), desc.Size)
	}
	if !VerifySignature(v.keys, payload, sig) {
		return errors.New("signature does not match any of the public keys")
	}
	signed, err := ParsePayload(payload)
	if err != nil {
		return err
	}
	if signed != digest {
		return fmt.Errorf("signed payload is for digest %s", signed)
	}
	return nil
}

// DecodeSignature decodes the base64 value of the signature annotation.
func DecodeSignature(s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("annotation %s is missing", SignatureAnnotation)
	}
	sig, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(sig) == 0 {
		return nil, fmt.Errorf("annotation %s is not a base64 signature", SignatureAnnotation)
	}
	return sig, nil
}

// payload is the part of a simple-signing payload that is checked.
type payload struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
}

// ParsePayload parses a simple-signing payload and returns the manifest
// digest it signs (critical.image.docker-manifest-digest). It fails when
// critical.type is not SignatureType or the digest is not a sha256 digest.
func ParsePayload(data []byte) (string, error) {
	var p payload
	if err := json.Unmarshal(data, &p); err != nil {
		return "", fmt.Errorf("invalid simple-signing payload: %w", err)
	}
	if p.Critical.Type != SignatureType {
		return "", fmt.Errorf("payload critical.type %q is not %q", truncate(p.Critical.Type), SignatureType)
	}
	d := p.Critical.Image.DockerManifestDigest
	h, err := v1.NewHash(d)
	if err != nil || h.Algorithm != "sha256" {
		return "", fmt.Errorf("payload docker-manifest-digest %q is not a sha256 digest", truncate(d))
	}
	return h.String(), nil
}

// VerifySignature reports whether sig is a valid signature over payload
// for one of keys, as cosign signs: ECDSA (ASN.1) over the SHA-256 digest
// (P-384 keys: SHA-384, or SHA-256), RSA PKCS#1 v1.5 or PSS over SHA-256,
// Ed25519 over the payload itself.
func VerifySignature(keys []crypto.PublicKey, payload, sig []byte) bool {
	h256 := sha256.Sum256(payload)
	for _, k := range keys {
		switch k := k.(type) {
		case *ecdsa.PublicKey:
			if k.Curve == elliptic.P384() {
				h384 := sha512.Sum384(payload)
				if ecdsa.VerifyASN1(k, h384[:], sig) {
					return true
				}
			}
			if ecdsa.VerifyASN1(k, h256[:], sig) {
				return true
			}
		case *rsa.PublicKey:
			if rsa.VerifyPKCS1v15(k, crypto.SHA256, h256[:], sig) == nil ||
				rsa.VerifyPSS(k, crypto.SHA256, h256[:], sig, nil) == nil {
				return true
			}
		case ed25519.PublicKey:
			if ed25519.Verify(k, payload, sig) {
				return true
			}
		}
	}
	return false
}

// isNotFound reports whether err is the registry's answer that the
// signature tag does not exist.
func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
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
	return fmt.Sprintf("cosign verification of %s failed: %v", e.digest, e.err)
}

func (e *verifyError) Unwrap() []error { return []error{source.ErrVerification, e.err} }
