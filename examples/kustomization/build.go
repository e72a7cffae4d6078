package kustomization

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
		var err error
		if dec, err = SOPSDecryptor(ctx, r.Client, obj.Namespace, d.SecretRef.Name); err != nil {
			return err
		}
	}
	opts.Decryptor = dec
	return nil
}

// SOPSDecryptor returns a SOPS decryptor with the keys of the Secret
// namespace/name, read as Flux reads spec.decryption.secretRef (age
// identities under "*.agekey", OpenPGP private keys under "*.asc").
// Errors name the Secret, never its data.
func SOPSDecryptor(ctx context.Context, reader client.Reader, namespace, name string) (*sopsdecrypt.Decryptor, error) {
	var s corev1.Secret
	if err := reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &s); err != nil {
		return nil, fmt.Errorf("reading decryption Secret %q: %w", name, err)
	}
	keys, err := sopsdecrypt.KeysFromSecretData(s.Data)
	if err != nil {
		return nil, fmt.Errorf("decryption Secret %q: %w", name, err)
	}
	return &sopsdecrypt.Decryptor{Keys: keys}, nil
}

// checkPath reports, as Flux does before a build, a spec.path missing from
// the unpacked artifact at root. The look-up stays inside root: a symbolic
// link in the artifact cannot make it test a path of the controller's host.
func checkPath(root, path string) error {
	rel := strings.TrimPrefix(filepath.Clean("/"+filepath.FromSlash(path)), string(filepath.Separator))
	if rel == "" {
		rel = "."
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return fmt.Errorf("kustomization path not found: %w", err)
	}
	defer r.Close()
	if _, err := r.Stat(rel); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("kustomization path not found: %s: %w", path, err)
	}
	return nil
}
