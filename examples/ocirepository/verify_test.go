package ocirepository_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/ocirepository"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/cosignverify"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
	"github.com/gitopskit/gitopskit/source/oci/sigstoreverify"
	"github.com/gitopskit/gitopskit/source/oci/sigstoreverify/sigstoretest"
)

// pubKey returns key's public half as cosign.pub holds it.
func pubKey(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// verify sets spec.verify to cosign with the public keys of a Secret.
func verify(secret string) func(*sourcev1.OCIRepository) {
	return func(o *sourcev1.OCIRepository) {
		o.Spec.SecretRef = nil
		o.Spec.Verify = &sourcev1.OCIRepositoryVerification{Provider: "cosign", SecretRef: &meta.LocalObjectReference{Name: secret}}
	}
}

func TestOCIRepositoryCosign(t *testing.T) {
	ctx := context.Background()
	store := startControllers(t)
	ns := "oci-cosign"
	namespace(t, ns)
	reg := ocitest.New(t)
	res, err := reg.PushFiles(ctx, "app", "v1.0.0", map[string]string{"app.yaml": configMap}, oci.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Sign the digest as `cosign sign --key` does.
	signer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	payload := fmt.Appendf(nil, `{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":%q},"optional":null}`,
		strings.TrimPrefix(reg.URL("app"), oci.URLPrefix), res.Digest, cosignverify.SignatureType)
	h := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, signer, h[:])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushLayers(ctx, "app", cosignverify.SignatureTag(res.Digest), nil, ocitest.Layer{
		MediaType: cosignverify.SimpleSigningMediaType, Data: payload,
		Annotations: map[string]string{cosignverify.SignatureAnnotation: base64.StdEncoding.EncodeToString(sig)},
	}); err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, keys := range map[string]map[string][]byte{
		"signer-keys": {"other.pub": pubKey(t, other), "signer.pub": pubKey(t, signer), "README": []byte("not a key")},
		"wrong-keys":  {"other.pub": pubKey(t, other)},
	} {
		if err := env.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: keys}); err != nil {
			t.Fatal(err)
		}
	}
	rev := "v1.0.0@" + res.Digest
	signed := createRepo(t, ns, "signed", reg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "v1.0.0"}, verify("signer-keys"))
	got := waitFor(t, signed, "verified", readyAt(rev))
	c := apimeta.FindStatusCondition(got.Status.Conditions, sourcev1.SourceVerifiedCondition)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != meta.SucceededReason || c.Message != "verified signature of revision "+rev {
		t.Errorf("SourceVerified %+v", c)
	}

	wrong := createRepo(t, ns, "wrong-key", reg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "v1.0.0"}, verify("wrong-keys"))
	got = waitFor(t, wrong, "verification fails", func(o *sourcev1.OCIRepository) bool {
		c := apimeta.FindStatusCondition(o.Status.Conditions, sourcev1.SourceVerifiedCondition)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == sourcev1.VerificationError &&
			apimeta.IsStatusConditionFalse(o.Status.Conditions, meta.ReadyCondition)
	})
	c = apimeta.FindStatusCondition(got.Status.Conditions, sourcev1.SourceVerifiedCondition)
	if !strings.HasPrefix(c.Message, "failed to verify the signature using provider 'cosign': ") || !strings.Contains(c.Message, res.Digest) {
		t.Errorf("SourceVerified message %q", c.Message)
	}
	if got.Status.Artifact != nil {
		t.Errorf("artifact stored without a valid signature: %+v", got.Status.Artifact)
	}
	if list, err := store.List(ctx, artifact.ObjectKey{Kind: sourcev1.OCIRepositoryKind, Namespace: ns, Name: "wrong-key"}); err != nil || len(list) != 0 {
		t.Errorf("artifacts of wrong-key: %v, %v", list, err)
	}
}

// verifiedFalse reports whether SourceVerified is False with Flux's
// reason, Ready False and no artifact stored.
func verifiedFalse(o *sourcev1.OCIRepository) bool {
	c := apimeta.FindStatusCondition(o.Status.Conditions, sourcev1.SourceVerifiedCondition)
	return c != nil && c.Status == metav1.ConditionFalse && c.Reason == sourcev1.VerificationError &&
		apimeta.IsStatusConditionFalse(o.Status.Conditions, meta.ReadyCondition) && o.Status.Artifact == nil
}

// TestOCIRepositoryKeyless verifies cosign v3 bundles attached as OCI
// referrers: keyless against the Reconciler's trusted root (or the
// object's trustedRootSecretRef), and with the public keys of a secretRef.
func TestOCIRepositoryKeyless(t *testing.T) {
	ctx := context.Background()
	sigstore, err := sigstoretest.New()
	if err != nil {
		t.Fatal(err)
	}
	other, err := sigstoretest.New()
	if err != nil {
		t.Fatal(err)
	}
	startControllers(t, func(r *ocirepository.Reconciler) { r.TrustedRoot = sigstore.TrustedRoot() })
	ns := "oci-keyless"
	namespace(t, ns)
	reg := ocitest.New(t)
	res, err := reg.PushFiles(ctx, "app", "v1.0.0", map[string]string{"app.yaml": configMap}, oci.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const (
		workflow = "https://github.com/org/app/.github/workflows/release.yaml@refs/tags/v1.0.0"
		issuer   = "https://token.actions.githubusercontent.com"
	)
	b, err := sigstore.SignKeyless(workflow, issuer, sigstoretest.Statement(res.Digest, sigstoreverify.CosignSignPredicateType))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sigstoretest.Attach(ctx, reg, "app", res.Digest, b); err != nil {
		t.Fatal(err)
	}
	keyed, err := reg.PushFiles(ctx, "app", "v2.0.0", map[string]string{"app.yaml": configMap + "# v2\n"}, oci.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := sigstoretest.SignWithKey(key, sigstoretest.Statement(keyed.Digest, sigstoreverify.CosignSignPredicateType))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sigstoretest.Attach(ctx, reg, "app", keyed.Digest, kb); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]map[string][]byte{
		"other-root": {sigstoreverify.TrustedRootKey: other.TrustedRootJSON()},
		"keys":       {"release.pub": pubKey(t, key)},
	} {
		if err := env.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	keyless := func(trustedRoot string, matches ...sourcev1.OIDCIdentityMatch) func(*sourcev1.OCIRepository) {
		return func(o *sourcev1.OCIRepository) {
			o.Spec.SecretRef = nil
			o.Spec.Verify = &sourcev1.OCIRepositoryVerification{Provider: "cosign", MatchOIDCIdentity: matches}
			if trustedRoot != "" {
				o.Spec.Verify.TrustedRootSecretRef = &meta.LocalObjectReference{Name: trustedRoot}
			}
		}
	}
	release := sourcev1.OIDCIdentityMatch{Subject: `^https://github\.com/org/app/\.github/workflows/release\.yaml@refs/tags/v.*$`, Issuer: `^https://token\.actions\.githubusercontent\.com$`}
	ci := sourcev1.OIDCIdentityMatch{Subject: `^https://github\.com/org/app/\.github/workflows/ci\.yaml@.*$`, Issuer: release.Issuer}

	rev := "v1.0.0@" + res.Digest
	signed := createRepo(t, ns, "keyless", reg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "v1.0.0"}, keyless("", ci, release))
	got := waitFor(t, signed, "keyless verified", readyAt(rev))
	c := apimeta.FindStatusCondition(got.Status.Conditions, sourcev1.SourceVerifiedCondition)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != meta.SucceededReason || c.Message != "verified signature of revision "+rev {
		t.Errorf("SourceVerified %+v", c)
	}

	wrong := createRepo(t, ns, "wrong-identity", reg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "v1.0.0"}, keyless("", ci))
	got = waitFor(t, wrong, "wrong identity refused", verifiedFalse)
	c = apimeta.FindStatusCondition(got.Status.Conditions, sourcev1.SourceVerifiedCondition)
	if !strings.HasPrefix(c.Message, "failed to verify the signature using provider 'cosign': ") || !strings.Contains(c.Message, res.Digest) ||
		!strings.Contains(c.Message, "expected SAN value to match regex") {
		t.Errorf("SourceVerified message %q", c.Message)
	}

	// The object's own trusted root replaces the Reconciler's.
	untrusted := createRepo(t, ns, "other-root", reg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "v1.0.0"}, keyless("other-root", release))
	got = waitFor(t, untrusted, "untrusted root refused", verifiedFalse)
	if c := apimeta.FindStatusCondition(got.Status.Conditions, sourcev1.SourceVerifiedCondition); !strings.Contains(c.Message, res.Digest) {
		t.Errorf("SourceVerified message %q", c.Message)
	}

	// A bundle signed with a key, verified with the secretRef's keys.
	byKey := createRepo(t, ns, "bundle-key", reg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "v2.0.0"}, verify("keys"))
	waitFor(t, byKey, "key-signed bundle verified", readyAt("v2.0.0@"+keyed.Digest))
}
