package cosignverify_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/cosignverify"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// key is a signing key of one of the supported kinds.
type key struct {
	name   string
	signer crypto.Signer
}

func newKeys(t testing.TB) []key {
	t.Helper()
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return []key{{"ecdsa-p256", p256}, {"ecdsa-p384", p384}, {"rsa", rsaKey}, {"ed25519", edKey}}
}

// pubPEM returns k's public key as cosign.pub holds it.
func pubPEM(t testing.TB, k key) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// sign signs payload as cosign does for k's kind.
func sign(t testing.TB, k key, payload []byte) []byte {
	t.Helper()
	var (
		sig []byte
		err error
	)
	switch s := k.signer.(type) {
	case ed25519.PrivateKey:
		sig = ed25519.Sign(s, payload)
	case *ecdsa.PrivateKey:
		if s.Curve == elliptic.P384() {
			h := sha512.Sum384(payload)
			sig, err = ecdsa.SignASN1(rand.Reader, s, h[:])
		} else {
			h := sha256.Sum256(payload)
			sig, err = ecdsa.SignASN1(rand.Reader, s, h[:])
		}
	default:
		h := sha256.Sum256(payload)
		sig, err = s.Sign(rand.Reader, h[:], crypto.SHA256)
	}
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// payloadFor is a simple-signing payload for digest of ref.
func payloadFor(ref, digest string) []byte {
	return fmt.Appendf(nil, `{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`, ref, digest)
}

// sigLayer is a signature layer of payload with the given annotation
// value.
func sigLayer(payload []byte, annotation string) ocitest.Layer {
	return ocitest.Layer{MediaType: cosignverify.SimpleSigningMediaType, Data: payload,
		Annotations: map[string]string{cosignverify.SignatureAnnotation: annotation}}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// pushArtifact pushes a content artifact to repo:tag and returns its
// digest.
func pushArtifact(t *testing.T, reg *ocitest.Registry, repo, tag, content string) string {
	t.Helper()
	d, err := reg.PushLayers(ctx(t), repo, tag, nil, ocitest.Layer{MediaType: oci.ContentMediaType, Data: ocitest.TarGz(map[string]string{"a.yaml": content})})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// pushSignature pushes layers as the signature artifact of digest.
func pushSignature(t *testing.T, reg *ocitest.Registry, repo, digest string, layers ...ocitest.Layer) {
	t.Helper()
	if _, err := reg.PushLayers(ctx(t), repo, cosignverify.SignatureTag(digest), nil, layers...); err != nil {
		t.Fatal(err)
	}
}

func fetch(t *testing.T, reg *ocitest.Registry, repo, tag string, v oci.Verifier) error {
	t.Helper()
	r := &oci.Repository{URL: reg.URL(repo), Ref: oci.Reference{Tag: tag}, Client: reg.Client(), Verify: v}
	dir := t.TempDir()
	_, err := r.Fetch(ctx(t), dir, "")
	if err == nil {
		if _, statErr := os.Stat(filepath.Join(dir, "a.yaml")); statErr != nil {
			t.Fatalf("verified fetch did not write the tree: %v", statErr)
		}
	}
	return err
}

func TestVerifyEachKeyKind(t *testing.T) {
	reg := ocitest.New(t)
	keys := newKeys(t)
	other := newKeys(t)
	for i, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			repo := "app-" + k.name
			digest := pushArtifact(t, reg, repo, "v1", "v: "+k.name)
			p := payloadFor(strings.TrimPrefix(reg.URL(repo), oci.URLPrefix), digest)
			pushSignature(t, reg, repo, digest, sigLayer(p, base64.StdEncoding.EncodeToString(sign(t, k, p))))

			// Several keys, the signing one among them.
			v, err := cosignverify.New(pubPEM(t, other[i]), append(pubPEM(t, other[(i+1)%4]), pubPEM(t, k)...))
			if err != nil {
				t.Fatal(err)
			}
			if err := fetch(t, reg, repo, "v1", v); err != nil {
				t.Fatalf("valid signature: %v", err)
			}

			// Only other keys.
			wrong, err := cosignverify.New(pubPEM(t, other[i]), pubPEM(t, other[(i+1)%4]))
			if err != nil {
				t.Fatal(err)
			}
			wantVerificationError(t, fetch(t, reg, repo, "v1", wrong), digest, "any of the public keys")
		})
	}
}

func wantVerificationError(t *testing.T, err error, digest, detail string) {
	t.Helper()
	if !errors.Is(err, source.ErrVerification) {
		t.Fatalf("err %v, want ErrVerification", err)
	}
	if !strings.Contains(err.Error(), digest) || !strings.Contains(err.Error(), detail) {
		t.Fatalf("err %q does not name %s and %q", err, digest, detail)
	}
}

func TestVerifyFailures(t *testing.T) {
	reg := ocitest.New(t)
	k := newKeys(t)[0]
	v, err := cosignverify.New(pubPEM(t, k))
	if err != nil {
		t.Fatal(err)
	}
	const repo = "app"
	ref := strings.TrimPrefix(reg.URL(repo), oci.URLPrefix)
	signed := func(p []byte) string { return base64.StdEncoding.EncodeToString(sign(t, k, p)) }

	unsigned := pushArtifact(t, reg, repo, "unsigned", "unsigned")
	other := pushArtifact(t, reg, repo, "other", "other")
	moved := pushArtifact(t, reg, repo, "moved", "moved")
	tampered := pushArtifact(t, reg, repo, "tampered", "tampered")
	malformed := pushArtifact(t, reg, repo, "malformed", "malformed")
	missing := pushArtifact(t, reg, repo, "missing", "missing")
	badType := pushArtifact(t, reg, repo, "badtype", "badtype")

	// A valid signature for another digest, copied under moved's tag.
	po := payloadFor(ref, other)
	pushSignature(t, reg, repo, moved, sigLayer(po, signed(po)))
	// A payload changed after signing.
	pt := payloadFor(ref, tampered)
	sig := signed(pt)
	pt = []byte(strings.Replace(string(pt), `"optional":null`, `"optional":{"x":"y"}`, 1))
	pushSignature(t, reg, repo, tampered, sigLayer(pt, sig))
	pm := payloadFor(ref, malformed)
	pushSignature(t, reg, repo, malformed, sigLayer(pm, "%%not base64%%"))
	pushSignature(t, reg, repo, missing, sigLayer(payloadFor(ref, missing), ""))
	pb := []byte(strings.Replace(string(payloadFor(ref, badType)), "cosign container image signature", "something else", 1))
	pushSignature(t, reg, repo, badType, sigLayer(pb, signed(pb)))

	for _, c := range []struct{ tag, digest, detail string }{
		{"unsigned", unsigned, "no cosign signature found"},
		{"moved", moved, "signed payload is for digest " + other},
		{"tampered", tampered, "any of the public keys"},
		{"malformed", malformed, "not a base64 signature"},
		{"missing", missing, "is missing"},
		{"badtype", badType, "critical.type"},
	} {
		t.Run(c.tag, func(t *testing.T) {
			wantVerificationError(t, fetch(t, reg, repo, c.tag, v), c.digest, c.detail)
		})
	}
	// Called directly, the error also unwraps to its cause.
	err = v.Verify(ctx(t), oci.VerifyTarget{Reference: ref + "@" + unsigned, Digest: unsigned})
	if !errors.Is(err, cosignverify.ErrNoSignature) || !errors.Is(err, source.ErrVerification) {
		t.Errorf("unsigned: %v does not wrap ErrNoSignature and ErrVerification", err)
	}
}

// TestVerifyAmongOthers accepts an artifact whose signature image holds
// bad signatures next to a good one, as cosign appends a layer per
// signing.
func TestVerifyAmongOthers(t *testing.T) {
	reg := ocitest.New(t)
	keys := newKeys(t)
	v, err := cosignverify.New(pubPEM(t, keys[3]))
	if err != nil {
		t.Fatal(err)
	}
	ref := strings.TrimPrefix(reg.URL("app"), oci.URLPrefix)
	d := pushArtifact(t, reg, "app", "v1", "x")
	p := payloadFor(ref, d)
	pushSignature(t, reg, "app", d,
		sigLayer(p, base64.StdEncoding.EncodeToString(sign(t, keys[0], p))),
		ocitest.Layer{MediaType: "application/octet-stream", Data: []byte("ignored")},
		sigLayer(p, base64.StdEncoding.EncodeToString(sign(t, keys[3], p))))
	if err := fetch(t, reg, "app", "v1", v); err != nil {
		t.Fatal(err)
	}
}

func TestNew(t *testing.T) {
	k := newKeys(t)
	if _, err := cosignverify.New(); err == nil {
		t.Error("no key accepted")
	}
	priv, _ := x509.MarshalPKCS8PrivateKey(k[0].signer)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	p521DER, _ := x509.MarshalPKIXPublicKey(&p521.PublicKey)
	for name, data := range map[string][]byte{
		"empty":       nil,
		"not pem":     []byte("hello"),
		"private key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv}),
		"rsa 1024":    pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: smallDER}),
		"p521":        pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p521DER}),
		"trailing":    append(pubPEM(t, k[0]), "junk"...),
		"bad der":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}),
	} {
		if _, err := cosignverify.New(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := cosignverify.New(append(pubPEM(t, k[0]), pubPEM(t, k[1])...)); err != nil {
		t.Errorf("two keys in one PEM: %v", err)
	}
}
