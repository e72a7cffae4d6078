package ocirepository

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/cosignverify"
	"github.com/gitopskit/gitopskit/source/oci/sigstoreverify"
)

// CosignVerifier returns the verifier of spec.verify from its secretRef
// Secret's data: every "*.pub" entry is a cosign public key, and a
// signature made with any of them is accepted, as in Flux: a Sigstore
// bundle attached as an OCI 1.1 referrer (cosign v3) or, when there is
// none, a legacy "sha256-<hex>.sig" signature.
func CosignVerifier(data map[string][]byte) (oci.Verifier, error) {
	var names []string
	for k := range data {
		if strings.HasSuffix(k, ".pub") {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return nil, errors.New("no '*.pub' public key found")
	}
	sort.Strings(names)
	keys := make([][]byte, 0, len(names))
	for _, n := range names {
		if _, err := cosignverify.ParsePublicKeys(data[n]); err != nil {
			return nil, fmt.Errorf("key '%s': %w", n, err)
		}
		keys = append(keys, data[n])
	}
	return sigstoreverify.New(sigstoreverify.Options{PublicKeys: keys})
}

// KeylessVerifier returns the verifier of a spec.verify without secretRef:
// Sigstore bundles whose Fulcio certificate matches any of the
// matchOIDCIdentity entries (subject and issuer regular expressions),
// verified against trustedRoot with cosign's defaults (an embedded SCT, a
// Rekor entry).
func KeylessVerifier(trustedRoot root.TrustedMaterial, matches []sourcev1.OIDCIdentityMatch) (oci.Verifier, error) {
	if len(matches) == 0 {
		return nil, errors.New("keyless verification needs spec.verify.matchOIDCIdentity")
	}
	if trustedRoot == nil {
		return nil, errors.New("keyless verification needs a Sigstore trusted root: set spec.verify.trustedRootSecretRef")
	}
	ids := make([]sigstoreverify.Identity, 0, len(matches))
	for _, m := range matches {
		ids = append(ids, sigstoreverify.Identity{Subject: m.Subject, Issuer: m.Issuer})
	}
	return sigstoreverify.New(sigstoreverify.Options{TrustedRoot: trustedRoot, Identities: ids})
}

// verifier sets repo.Verify from obj's spec.verify (Unsupported has
// checked its provider): the secretRef's public keys, or keyless against
// the trustedRootSecretRef's trusted_root.json, else the Reconciler's
// TrustedRoot. A nil spec.verify removes the SourceVerified condition.
func (r *Reconciler) verifier(ctx context.Context, obj *sourcev1.OCIRepository, repo *oci.Repository) error {
	v := obj.Spec.Verify
	if v == nil {
		apimeta.RemoveStatusCondition(&obj.Status.Conditions, sourcev1.SourceVerifiedCondition)
		return nil
	}
	if v.SecretRef != nil {
		data, err := fluxadapter.SecretData(ctx, r.Client, obj.Namespace, v.SecretRef.Name)
		if err == nil {
			repo.Verify, err = CosignVerifier(data)
		}
		if err != nil {
			return fmt.Errorf("%w: invalid verification Secret %q: %w", source.ErrVerification, v.SecretRef.Name, err)
		}
		return nil
	}
	trusted := r.TrustedRoot
	if ref := v.TrustedRootSecretRef; ref != nil {
		data, err := fluxadapter.SecretData(ctx, r.Client, obj.Namespace, ref.Name)
		if err == nil && data[sigstoreverify.TrustedRootKey] == nil {
			err = fmt.Errorf("'%s' not found", sigstoreverify.TrustedRootKey)
		}
		if err == nil {
			trusted, err = sigstoreverify.ParseTrustedRoot(data[sigstoreverify.TrustedRootKey])
		}
		if err != nil {
			return fmt.Errorf("%w: failed to read trusted root from secret '%s/%s': %w", source.ErrVerification, obj.Namespace, ref.Name, err)
		}
	}
	var err error
	if repo.Verify, err = KeylessVerifier(trusted, v.MatchOIDCIdentity); err != nil {
		return fmt.Errorf("%w: %w", source.ErrVerification, err)
	}
	return nil
}

// verified reports whether the SourceVerified condition already holds for
// the artifact revision of obj's current generation, so an unchanged
// artifact needs no new verification.
func verified(obj *sourcev1.OCIRepository) bool {
	c := apimeta.FindStatusCondition(obj.Status.Conditions, sourcev1.SourceVerifiedCondition)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == obj.Generation &&
		obj.Status.Artifact != nil && strings.HasSuffix(c.Message, " "+obj.Status.Artifact.Revision)
}

// verifyFailed words a verification failure as Flux does; other errors
// are returned as they are.
func verifyFailed(obj *sourcev1.OCIRepository, err error) error {
	if obj.Spec.Verify == nil || !errors.Is(err, source.ErrVerification) {
		return err
	}
	return fmt.Errorf("failed to verify the signature using provider '%s': %w", obj.Spec.Verify.Provider, err)
}
