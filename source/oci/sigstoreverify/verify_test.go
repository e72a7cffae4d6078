package sigstoreverify_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/cosignverify"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
	"github.com/gitopskit/gitopskit/source/oci/sigstoreverify"
	"github.com/gitopskit/gitopskit/source/oci/sigstoreverify/sigstoretest"
)

const (
	signer = "release@example.com"
	issuer = "https://accounts.example.com"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func newSigstore(t *testing.T) *sigstoretest.Sigstore {
	t.Helper()
	s, err := sigstoretest.New()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pushArtifact(t *testing.T, reg *ocitest.Registry, repo, tag, content string) string {
	t.Helper()
	d, err := reg.PushLayers(ctx(t), repo, tag, nil, ocitest.Layer{MediaType: oci.ContentMediaType, Data: ocitest.TarGz(map[string]string{"a.yaml": content})})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func attach(t *testing.T, reg *ocitest.Registry, repo, digest string, bundle []byte) {
	t.Helper()
	if _, err := sigstoretest.Attach(ctx(t), reg, repo, digest, bundle); err != nil {
		t.Fatal(err)
	}
}

func keyless(t *testing.T, s *sigstoretest.Sigstore, subject, iss, digest string) []byte {
	t.Helper()
	b, err := s.SignKeyless(subject, iss, sigstoretest.Statement(digest, sigstoreverify.CosignSignPredicateType))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newVerifier(t *testing.T, opts sigstoreverify.Options) *sigstoreverify.Verifier {
	t.Helper()
	v, err := sigstoreverify.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
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

func wantRefused(t *testing.T, err error, digest, detail string) {
	t.Helper()
	if !errors.Is(err, source.ErrVerification) {
		t.Fatalf("err %v, want ErrVerification", err)
	}
	if !strings.Contains(err.Error(), digest) || !strings.Contains(err.Error(), detail) {
		t.Fatalf("err %q does not name %s and %q", err, digest, detail)
	}
}

// TestKeyless signs artifacts keylessly and attaches the bundles through
// the referrers API and, on a registry without it, the referrers tag.
func TestKeyless(t *testing.T) {
	for name, opts := range map[string][]ocitest.Option{"referrers-api": nil, "referrers-tag": {ocitest.WithoutReferrersAPI()}} {
		t.Run(name, func(t *testing.T) {
			reg := ocitest.New(t, opts...)
			s := newSigstore(t)
			digest := pushArtifact(t, reg, "app", "v1", "v1")
			attach(t, reg, "app", digest, keyless(t, s, signer, issuer, digest))
			if name == "referrers-tag" {
				if err := reg.Tag(ctx(t), "app", digest, "probe"); err != nil {
					t.Fatal(err)
				}
				fallback := false
				for _, r := range reg.Requests() {
					fallback = fallback || strings.HasSuffix(r.Path, "/manifests/"+strings.Replace(digest, ":", "-", 1))
				}
				if !fallback {
					t.Fatal("the bundle was not recorded in the referrers tag")
				}
			}
			// Several identities, one matching: accepted.
			v := newVerifier(t, sigstoreverify.Options{TrustedRoot: s.TrustedRoot(), Identities: []sigstoreverify.Identity{
				{Subject: "^ci@example.com$", Issuer: "^" + issuer + "$"},
				{Subject: "^release@example\\.com$", Issuer: "^https://accounts\\.example\\.com$"},
			}})
			if err := fetch(t, reg, "app", "v1", v); err != nil {
				t.Fatalf("right identity: %v", err)
			}

			for what, id := range map[string]sigstoreverify.Identity{
				"wrong subject": {Subject: "^ci@example\\.com$", Issuer: issuer},
				"wrong issuer":  {Subject: signer, Issuer: "^https://token\\.actions\\.githubusercontent\\.com$"},
			} {
				v := newVerifier(t, sigstoreverify.Options{TrustedRoot: s.TrustedRoot(), Identities: []sigstoreverify.Identity{id}})
				err := fetch(t, reg, "app", "v1", v)
				wantRefused(t, err, digest, map[string]string{"wrong subject": "expected SAN value to match regex", "wrong issuer": "expected issuer value to match regex"}[what])
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("%s: multi-line error %q", what, err)
				}
			}

			// The right identity, but the root of another instance.
			other := newSigstore(t)
			v = newVerifier(t, sigstoreverify.Options{TrustedRoot: other.TrustedRoot(), Identities: []sigstoreverify.Identity{{Subject: signer, Issuer: issuer}}})
			wantRefused(t, fetch(t, reg, "app", "v1", v), digest, "transparency log")
			// Only the certificate authority is another instance's.
			tr := s.TrustedRoot()
			mixed, err := root.NewTrustedRoot(root.TrustedRootMediaType01, other.TrustedRoot().FulcioCertificateAuthorities(), tr.CTLogs(), tr.TimestampingAuthorities(), tr.RekorLogs())
			if err != nil {
				t.Fatal(err)
			}
			v = newVerifier(t, sigstoreverify.Options{TrustedRoot: mixed, Identities: []sigstoreverify.Identity{{Subject: signer, Issuer: issuer}}})
			wantRefused(t, fetch(t, reg, "app", "v1", v), digest, "failed to verify leaf certificate")
			// Only the CT log is another instance's: the SCT is required,
			// unless IgnoreSCT.
			noCT, err := root.NewTrustedRoot(root.TrustedRootMediaType01, tr.FulcioCertificateAuthorities(), other.TrustedRoot().CTLogs(), tr.TimestampingAuthorities(), tr.RekorLogs())
			if err != nil {
				t.Fatal(err)
			}
			v = newVerifier(t, sigstoreverify.Options{TrustedRoot: noCT, Identities: []sigstoreverify.Identity{{Subject: signer, Issuer: issuer}}})
			wantRefused(t, fetch(t, reg, "app", "v1", v), digest, "SCT")
			v = newVerifier(t, sigstoreverify.Options{TrustedRoot: noCT, IgnoreSCT: true, Identities: []sigstoreverify.Identity{{Subject: signer, Issuer: issuer}}})
			if err := fetch(t, reg, "app", "v1", v); err != nil {
				t.Fatalf("IgnoreSCT: %v", err)
			}
			// SignedTimestamps requires the timestamping authority.
			v = newVerifier(t, sigstoreverify.Options{TrustedRoot: tr, SignedTimestamps: true, Identities: []sigstoreverify.Identity{{Subject: signer, Issuer: issuer}}})
			if err := fetch(t, reg, "app", "v1", v); err != nil {
				t.Fatalf("SignedTimestamps: %v", err)
			}
			noTSA, err := root.NewTrustedRoot(root.TrustedRootMediaType01, tr.FulcioCertificateAuthorities(), tr.CTLogs(), other.TrustedRoot().TimestampingAuthorities(), tr.RekorLogs())
			if err != nil {
				t.Fatal(err)
			}
			v = newVerifier(t, sigstoreverify.Options{TrustedRoot: noTSA, SignedTimestamps: true, Identities: []sigstoreverify.Identity{{Subject: signer, Issuer: issuer}}})
			wantRefused(t, fetch(t, reg, "app", "v1", v), digest, "timestamp")
		})
	}
}

func TestKeylessRefusals(t *testing.T) {
	reg := ocitest.New(t)
	s := newSigstore(t)
	v := newVerifier(t, sigstoreverify.Options{TrustedRoot: s.TrustedRoot(), Identities: []sigstoreverify.Identity{{Subject: "^" + signer + "$", Issuer: "^" + issuer + "$"}}})

	// A valid bundle for another digest, attached to this one.
	other := pushArtifact(t, reg, "app", "other", "other")
	moved := pushArtifact(t, reg, "app", "moved", "moved")
	attach(t, reg, "app", moved, keyless(t, s, signer, issuer, other))
	wantRefused(t, fetch(t, reg, "app", "other", v), other, "no Sigstore bundle")
	ref := strings.TrimPrefix(reg.URL("app"), oci.URLPrefix) + "@" + other
	if err := v.Verify(ctx(t), oci.VerifyTarget{Reference: ref, Digest: other}); !errors.Is(err, sigstoreverify.ErrNoSignature) || !errors.Is(err, source.ErrVerification) {
		t.Fatalf("unsigned: err %v, want ErrNoSignature and ErrVerification", err)
	}
	wantRefused(t, fetch(t, reg, "app", "moved", v), moved, "digest")

	// Tampered: the statement swapped for one naming the digest, the
	// signature kept.
	tampered := pushArtifact(t, reg, "app", "tampered", "tampered")
	b := keyless(t, s, signer, issuer, other)
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	doc["dsseEnvelope"].(map[string]any)["payload"] = base64.StdEncoding.EncodeToString(sigstoretest.Statement(tampered, sigstoreverify.CosignSignPredicateType))
	b, _ = json.Marshal(doc)
	attach(t, reg, "app", tampered, b)
	wantRefused(t, fetch(t, reg, "app", "tampered", v), tampered, "does not match envelope payload hash")
	noLog := newVerifier(t, sigstoreverify.Options{TrustedRoot: s.TrustedRoot(), IgnoreTransparencyLog: true,
		Identities: []sigstoreverify.Identity{{Subject: "^" + signer + "$", Issuer: "^" + issuer + "$"}}})
	wantRefused(t, fetch(t, reg, "app", "tampered", noLog), tampered, "signature")
	if err := fetch(t, reg, "app", "moved", noLog); err == nil {
		t.Fatal("without the log, a bundle of another digest was accepted")
	}

	// Not a bundle at all.
	garbage := pushArtifact(t, reg, "app", "garbage", "garbage")
	attach(t, reg, "app", garbage, []byte(`{"mediaType":`))
	wantRefused(t, fetch(t, reg, "app", "garbage", v), garbage, "invalid bundle")

	// Another predicate type is refused only when restricted.
	sbom := pushArtifact(t, reg, "app", "sbom", "sbom")
	sb, err := s.SignKeyless(signer, issuer, sigstoretest.Statement(sbom, "https://spdx.dev/Document"))
	if err != nil {
		t.Fatal(err)
	}
	attach(t, reg, "app", sbom, sb)
	if err := fetch(t, reg, "app", "sbom", v); err != nil {
		t.Fatalf("any predicate: %v", err)
	}
	strict := newVerifier(t, sigstoreverify.Options{TrustedRoot: s.TrustedRoot(), PredicateTypes: []string{sigstoreverify.CosignSignPredicateType},
		Identities: []sigstoreverify.Identity{{Subject: signer, Issuer: issuer}}})
	wantRefused(t, fetch(t, reg, "app", "sbom", strict), sbom, "predicate type")

	// A keyless verifier meets a key-signed bundle.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keyed := pushArtifact(t, reg, "app", "keyed", "keyed")
	kb, err := sigstoretest.SignWithKey(key, sigstoretest.Statement(keyed, sigstoreverify.CosignSignPredicateType))
	if err != nil {
		t.Fatal(err)
	}
	attach(t, reg, "app", keyed, kb)
	wantRefused(t, fetch(t, reg, "app", "keyed", v), keyed, "no public key")
}

func pubPEM(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestPublicKeys(t *testing.T) {
	reg := ocitest.New(t, ocitest.WithoutReferrersAPI())
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := pushArtifact(t, reg, "app", "v1", "v1")
	b, err := sigstoretest.SignWithKey(key, sigstoretest.Statement(digest, sigstoreverify.CosignSignPredicateType))
	if err != nil {
		t.Fatal(err)
	}
	attach(t, reg, "app", digest, b)
	v := newVerifier(t, sigstoreverify.Options{PublicKeys: [][]byte{pubPEM(t, otherKey), pubPEM(t, key)}})
	if err := fetch(t, reg, "app", "v1", v); err != nil {
		t.Fatalf("signing key among the keys: %v", err)
	}
	wrong := newVerifier(t, sigstoreverify.Options{PublicKeys: [][]byte{pubPEM(t, otherKey)}})
	wantRefused(t, fetch(t, reg, "app", "v1", wrong), digest, "any of the public keys")

	// Another digest's statement, signed with the key.
	moved := pushArtifact(t, reg, "app", "moved", "moved")
	mb, _ := sigstoretest.SignWithKey(key, sigstoretest.Statement(digest, sigstoreverify.CosignSignPredicateType))
	attach(t, reg, "app", moved, mb)
	wantRefused(t, fetch(t, reg, "app", "moved", v), moved, "digest")

	// Requiring a log entry refuses a bundle without one.
	s := newSigstore(t)
	logged := newVerifier(t, sigstoreverify.Options{PublicKeys: [][]byte{pubPEM(t, key)}, TrustedRoot: s.TrustedRoot(), KeyTransparencyLog: true})
	wantRefused(t, fetch(t, reg, "app", "v1", logged), digest, "transparency log")
}

// TestLegacyFallback verifies a legacy .sig signature when no bundle
// refers to the artifact.
func TestLegacyFallback(t *testing.T) {
	reg := ocitest.New(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := pushArtifact(t, reg, "app", "v1", "v1")
	payload := fmt.Appendf(nil, `{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":%q},"optional":null}`,
		strings.TrimPrefix(reg.URL("app"), oci.URLPrefix), digest, cosignverify.SignatureType)
	h := sha256.Sum256(payload)
	sig, _ := ecdsa.SignASN1(rand.Reader, key, h[:])
	if _, err := reg.PushLayers(ctx(t), "app", cosignverify.SignatureTag(digest), nil, ocitest.Layer{
		MediaType: cosignverify.SimpleSigningMediaType, Data: payload,
		Annotations: map[string]string{cosignverify.SignatureAnnotation: base64.StdEncoding.EncodeToString(sig)},
	}); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, sigstoreverify.Options{PublicKeys: [][]byte{pubPEM(t, key)}})
	if err := fetch(t, reg, "app", "v1", v); err != nil {
		t.Fatalf("legacy signature: %v", err)
	}
	wrong := newVerifier(t, sigstoreverify.Options{PublicKeys: [][]byte{pubPEMNew(t)}})
	wantRefused(t, fetch(t, reg, "app", "v1", wrong), digest, "legacy cosign signatures: signature sha256:")
	s := newSigstore(t)
	keylessOnly := newVerifier(t, sigstoreverify.Options{TrustedRoot: s.TrustedRoot(), Identities: []sigstoreverify.Identity{{Subject: signer, Issuer: issuer}}})
	wantRefused(t, fetch(t, reg, "app", "v1", keylessOnly), digest, "legacy cosign signature tag is not read for keyless verification")
	noLegacy := newVerifier(t, sigstoreverify.Options{PublicKeys: [][]byte{pubPEM(t, key)}, NoLegacySignatures: true})
	wantRefused(t, fetch(t, reg, "app", "v1", noLegacy), digest, "legacy signatures not looked up")
	ref := strings.TrimPrefix(reg.URL("app"), oci.URLPrefix) + "@" + digest
	if err := noLegacy.Verify(ctx(t), oci.VerifyTarget{Reference: ref, Digest: digest}); !errors.Is(err, sigstoreverify.ErrNoSignature) {
		t.Fatalf("without legacy: err %v, want ErrNoSignature", err)
	}
}

func TestOptions(t *testing.T) {
	s := newSigstore(t)
	for name, opts := range map[string]sigstoreverify.Options{
		"nothing":           {},
		"identity, no root": {Identities: []sigstoreverify.Identity{{Subject: "a", Issuer: "b"}}},
		"empty issuer":      {TrustedRoot: s.TrustedRoot(), Identities: []sigstoreverify.Identity{{Subject: "a"}}},
		"bad regexp":        {TrustedRoot: s.TrustedRoot(), Identities: []sigstoreverify.Identity{{Subject: "(", Issuer: "b"}}},
		"bad key":           {PublicKeys: [][]byte{[]byte("not a key")}},
		"key log, no root":  {PublicKeys: [][]byte{pubPEMNew(t)}, KeyTransparencyLog: true},
	} {
		if _, err := sigstoreverify.New(opts); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if _, err := sigstoreverify.ParseTrustedRoot(s.TrustedRootJSON()); err != nil {
		t.Errorf("ParseTrustedRoot: %v", err)
	}
	if _, err := sigstoreverify.ParseTrustedRoot([]byte(`{}`)); err == nil {
		t.Error("ParseTrustedRoot accepted {}")
	}
}

func pubPEMNew(t *testing.T) []byte {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return pubPEM(t, k)
}

func TestCaps(t *testing.T) {
	reg := ocitest.New(t)
	s := newSigstore(t)
	ids := []sigstoreverify.Identity{{Subject: signer, Issuer: issuer}}
	digest := pushArtifact(t, reg, "app", "v1", "v1")
	attach(t, reg, "app", digest, keyless(t, s, signer, issuer, digest))
	for detail, opts := range map[string]sigstoreverify.Options{
		"bundle of":   {MaxBundleSize: 100},
		"manifest of": {MaxManifestSize: 100},
	} {
		opts.TrustedRoot, opts.Identities = s.TrustedRoot(), ids
		wantRefused(t, fetch(t, reg, "app", "v1", newVerifier(t, opts)), digest, detail)
	}

	flood := pushArtifact(t, reg, "app", "flood", "flood")
	for i := range 3 {
		attach(t, reg, "app", flood, fmt.Appendf(nil, `{"n":%d}`, i))
	}
	v := newVerifier(t, sigstoreverify.Options{TrustedRoot: s.TrustedRoot(), Identities: ids, MaxReferrers: 2})
	wantRefused(t, fetch(t, reg, "app", "flood", v), flood, "more than 2 referrers")

	// Referrers that are not bundles are passed over.
	other := pushArtifact(t, reg, "app", "sbom", "sbom")
	if _, err := reg.PushReferrer(ctx(t), "app", other, "application/spdx+json", nil, ocitest.Layer{MediaType: "application/spdx+json", Data: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, fetch(t, reg, "app", "sbom", v), other, "no Sigstore bundle")
}

// A registry that answers the referrers API with an index over the
// client's manifest cap is refused before the index is read.
func TestReferrersIndexCap(t *testing.T) {
	reg := ocitest.New(t, ocitest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.Contains(r.URL.Path, "/referrers/") {
				next.ServeHTTP(w, r)
				return
			}
			body := append([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`),
				bytes.Repeat([]byte(" "), 5<<20)...)
			w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = w.Write(body)
		})
	}))
	s := newSigstore(t)
	digest := pushArtifact(t, reg, "app", "v1", "v1")
	v := newVerifier(t, sigstoreverify.Options{TrustedRoot: s.TrustedRoot(), Identities: []sigstoreverify.Identity{{Subject: signer, Issuer: issuer}}})
	err := fetch(t, reg, "app", "v1", v)
	wantRefused(t, err, digest, "larger than the cap")
}
