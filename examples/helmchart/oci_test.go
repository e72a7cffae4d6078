package helmchart_test

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
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/cosignverify"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
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

// Charts from an OCI HelmRepository, signed with a cosign key: verified
// with the right key (SourceVerified True), refused with another one
// (SourceVerified False, BuildFailed with ChartVerificationError, no
// artifact); a chart of the static repository without verification is
// pulled at the highest version of its range.
func TestHelmChartOCI(t *testing.T) {
	ctx := context.Background()
	startControllers(t)
	ns := "helmchart-oci"
	sourcetest.Namespace(t, env, ns)
	reg := ocitest.New(t, ocitest.WithBasicAuth("fleet", "s3cret"))
	var digest string
	for _, v := range []string{"1.0.0", "1.1.0"} {
		data, err := helmtest.Package(chartFiles(v))
		if err != nil {
			t.Fatal(err)
		}
		if digest, err = helmtest.PushOCI(ctx, reg, "charts/app", data); err != nil {
			t.Fatal(err)
		}
	}
	// Sign 1.1.0 as `cosign sign --key` does.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	payload := fmt.Appendf(nil, `{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":%q},"optional":null}`,
		strings.TrimPrefix(reg.URL("charts/app"), oci.URLPrefix), digest, cosignverify.SignatureType)
	h := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushLayers(ctx, "charts/app", cosignverify.SignatureTag(digest), nil, ocitest.Layer{
		MediaType: cosignverify.SimpleSigningMediaType, Data: payload,
		Annotations: map[string]string{cosignverify.SignatureAnnotation: base64.StdEncoding.EncodeToString(sig)},
	}); err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secret(t, ns, "registry-auth", map[string][]byte{"username": []byte("fleet"), "password": []byte("s3cret")})
	secret(t, ns, "cosign-pub", map[string][]byte{"cosign.pub": pubKey(t, key)})
	secret(t, ns, "other-pub", map[string][]byte{"cosign.pub": pubKey(t, other)})
	repo := &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "oci", Namespace: ns},
		Spec: sourcev1.HelmRepositorySpec{Type: sourcev1.HelmRepositoryTypeOCI, URL: reg.URL("charts"), Insecure: true,
			SecretRef: &meta.LocalObjectReference{Name: "registry-auth"}},
	}
	create(t, repo)

	signed := chart(ns, "signed", sourcev1.HelmRepositoryKind, "oci", "app", "1.x")
	signed.Spec.Verify = &sourcev1.HelmChartVerification{Provider: "cosign", SecretRef: &meta.LocalObjectReference{Name: "cosign-pub"}}
	create(t, signed)
	waitFor(t, signed, "signed chart", readyAt("1.1.0", sourcev1.ChartPullSucceededReason))
	if c := apimeta.FindStatusCondition(signed.Status.Conditions, sourcev1.SourceVerifiedCondition); c == nil ||
		c.Status != metav1.ConditionTrue || c.Message != "verified signature of version 1.1.0" {
		t.Errorf("SourceVerified %+v", c)
	}
	if signed.Status.ObservedSourceArtifactRevision != "" {
		t.Errorf("observedSourceArtifactRevision %q for a static repository", signed.Status.ObservedSourceArtifactRevision)
	}
	// A requested reconcile keeps the verified artifact.
	first := *signed.Status.Artifact
	request(t, signed, "again")
	waitFor(t, signed, "no-op", func(o *sourcev1.HelmChart) bool { return o.Status.LastHandledReconcileAt == "again" })
	if got := signed.Status.Artifact; got.Path != first.Path || !got.LastUpdateTime.Equal(&first.LastUpdateTime) ||
		!apimeta.IsStatusConditionTrue(signed.Status.Conditions, sourcev1.SourceVerifiedCondition) {
		t.Errorf("no-op reconcile: %+v -> %+v, %+v", first, got, signed.Status.Conditions)
	}

	wrong := chart(ns, "wrong-key", sourcev1.HelmRepositoryKind, "oci", "app", "1.1.0")
	wrong.Spec.Verify = &sourcev1.HelmChartVerification{Provider: "cosign", SecretRef: &meta.LocalObjectReference{Name: "other-pub"}}
	create(t, wrong)
	waitFor(t, wrong, "wrong key", condition(sourcev1.SourceVerifiedCondition, metav1.ConditionFalse, sourcev1.VerificationError))
	waitFor(t, wrong, "wrong key build", condition(sourcev1.BuildFailedCondition, metav1.ConditionTrue, "ChartVerificationError"))
	if wrong.Status.Artifact != nil || !condition(meta.ReadyCondition, metav1.ConditionFalse, "ChartVerificationError")(wrong) {
		t.Errorf("status %+v", wrong.Status)
	}

	// Unsigned 1.0.0 without verification.
	plain := chart(ns, "plain", sourcev1.HelmRepositoryKind, "oci", "app", "<1.1.0")
	create(t, plain)
	waitFor(t, plain, "plain chart", readyAt("1.0.0", sourcev1.ChartPullSucceededReason))
	if apimeta.FindStatusCondition(plain.Status.Conditions, sourcev1.SourceVerifiedCondition) != nil {
		t.Errorf("SourceVerified without spec.verify: %+v", plain.Status.Conditions)
	}
}
