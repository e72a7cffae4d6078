package helmrelease

import (
	"context"
	"errors"
	"fmt"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/kustomize"
	"github.com/gitopskit/gitopskit/kustomize/sopsdecrypt"
)

// ValuesDecryptionSecretAnnotation opts a HelmRelease into SOPS-encrypted
// values (Flux's API has no field for it): its value names a Secret in the
// HelmRelease's namespace holding SOPS keys under the key names of a
// Kustomization's spec.decryption.secretRef ("*.agekey" age identities,
// "*.asc" OpenPGP private keys). Values documents and Secret or ConfigMap
// keys of spec.valuesFrom, and values files of ValuesFilesAnnotation, that
// carry SOPS metadata are then decrypted
// before composition; without the annotation they fail the
// reconciliation.
const ValuesDecryptionSecretAnnotation = "gitopskit.io/values-decryption-secret"

// composeValues composes the values of obj: the files of
// ValuesFilesAnnotation, spec.valuesFrom (both decrypted with the keys of
// ValuesDecryptionSecretAnnotation) and spec.values. The
// plaintext lives only in the composed values handed to Helm; errors name
// the reference and key, never a value.
func (r *Reconciler) composeValues(ctx context.Context, obj *helmv2.HelmRelease) (helmrelease.ComposedValues, error) {
	opts := helmrelease.ValuesOptions{
		From: valuesFrom(obj), Getter: valuesGetter{reader: r.Client, namespace: obj.Namespace}, Values: obj.GetValues(),
	}
	files, err := r.valuesFiles(ctx, obj)
	if err != nil {
		return helmrelease.ComposedValues{}, err
	}
	opts.Files = files
	secret := obj.GetAnnotations()[ValuesDecryptionSecretAnnotation]
	if secret != "" {
		var s corev1.Secret
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: secret}, &s); err != nil {
			return helmrelease.ComposedValues{}, fmt.Errorf("annotation %s: reading decryption Secret %q: %w", ValuesDecryptionSecretAnnotation, secret, err)
		}
		// The key names of a Kustomization's spec.decryption.secretRef;
		// errors name the Secret, never its data.
		keys, err := sopsdecrypt.KeysFromSecretData(s.Data)
		if err != nil {
			return helmrelease.ComposedValues{}, fmt.Errorf("annotation %s: decryption Secret %q: %w", ValuesDecryptionSecretAnnotation, secret, err)
		}
		opts.Decryptor = &sopsdecrypt.Decryptor{Keys: keys}
	}
	values, err := helmrelease.ComposeValues(ctx, opts)
	if err != nil && secret == "" && errors.Is(err, kustomize.ErrStillEncrypted) {
		return values, fmt.Errorf("%w; annotate the HelmRelease with %s naming a Secret of SOPS keys to decrypt it", err, ValuesDecryptionSecretAnnotation)
	}
	return values, err
}
