package kustomization

import (
	"context"
	"fmt"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/kustomize"
	"github.com/gitopskit/gitopskit/kustomize/sopsdecrypt"
)

// DecryptionProviderSOPS is the only decryption provider Flux knows.
const DecryptionProviderSOPS = "sops"

// objectVars reads substitution variables from a ConfigMap or a Secret.
type objectVars struct {
	reader    client.Reader
	kind      string
	namespace string
	name      string
}

// LoadVars implements kustomize.VarsProvider.
func (v objectVars) LoadVars(ctx context.Context) (map[string]string, error) {
	key := types.NamespacedName{Namespace: v.namespace, Name: v.name}
	out := map[string]string{}
	switch v.kind {
	case "ConfigMap":
		var cm corev1.ConfigMap
		if err := v.reader.Get(ctx, key, &cm); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("reading ConfigMap %q: %w", v.name, kustomize.ErrVarsNotFound)
			}
			return nil, err
		}
		for k, val := range cm.Data {
			out[k] = val
		}
		for k, val := range cm.BinaryData {
			out[k] = string(val)
		}
	case "Secret":
		var s corev1.Secret
		if err := v.reader.Get(ctx, key, &s); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("reading Secret %q: %w", v.name, kustomize.ErrVarsNotFound)
			}
			return nil, err
		}
		for k, val := range s.Data {
			out[k] = string(val)
		}
	default:
		return nil, fmt.Errorf("substituteFrom kind %q is not ConfigMap or Secret", v.kind)
	}
	return out, nil
}

// addSubstitution configures post-build substitution from spec.postBuild.
func (r *Reconciler) addSubstitution(_ context.Context, obj *kustomizev1.Kustomization, opts *kustomize.Options) error {
	pb := obj.Spec.PostBuild
	if pb == nil {
		return nil
	}
	sub := &kustomize.Substitution{Vars: pb.Substitute}
	for _, ref := range pb.SubstituteFrom {
		sub.From = append(sub.From, kustomize.VarsFrom{
			Name:     ref.Kind + "/" + ref.Name,
			Provider: objectVars{reader: r.Client, kind: ref.Kind, namespace: obj.Namespace, name: ref.Name},
			Optional: ref.Optional,
		})
	}
	opts.Substitute = sub
	return nil
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
