package kustomization

import (
	"context"
	"fmt"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopskit/gitopskit/kustomize"
	"github.com/gitopskit/gitopskit/kustomize/sopsdecrypt"
	"github.com/gitopskit/gitopskit/reconcile"
)

// DecryptionProviderSOPS is the only decryption provider Flux knows.
const DecryptionProviderSOPS = "sops"

// addSubstitution configures post-build substitution from spec.postBuild:
// the ConfigMaps and Secrets of substituteFrom are read by
// reconcile.ObjectVars when the build runs.
func (r *Reconciler) addSubstitution(obj *kustomizev1.Kustomization, opts *kustomize.Options) {
	pb := obj.Spec.PostBuild
	if pb == nil {
		return
	}
	sub := &kustomize.Substitution{Vars: pb.Substitute}
	for _, ref := range pb.SubstituteFrom {
		sub.From = append(sub.From, kustomize.VarsFrom{
			Name: ref.Kind + "/" + ref.Name,
			Provider: reconcile.ObjectVars{
				Reader: r.Client, Kind: ref.Kind, Namespace: obj.Namespace, Name: ref.Name, NotFound: kustomize.ErrVarsNotFound,
			},
			Optional: ref.Optional,
		})
	}
	opts.Substitute = sub
}

// addDecryption configures SOPS decryption from spec.decryption.
func (r *Reconciler) addDecryption(ctx context.Context, obj *kustomizev1.Kustomization, opts *kustomize.Options) error {
	d := obj.Spec.Decryption
	if d == nil {
		return nil
	}
	if d.Provider != DecryptionProviderSOPS {
		return fmt.Errorf("decryption provider %q is not supported, only %q", d.Provider, DecryptionProviderSOPS)
	}
	dec := &sopsdecrypt.Decryptor{}
	if d.SecretRef != nil {
		var s corev1.Secret
		if err := r.Client.Get(ctx, types.NamespacedName{Namespace: obj.Namespace, Name: d.SecretRef.Name}, &s); err != nil {
			return fmt.Errorf("reading decryption Secret %q: %w", d.SecretRef.Name, err)
		}
		keys, err := sopsdecrypt.KeysFromSecretData(s.Data)
		if err != nil {
			return fmt.Errorf("decryption Secret %q: %w", d.SecretRef.Name, err)
		}
		dec.Keys = keys
	}
	opts.Decryptor = dec
	return nil
}
