package image

import (
	"context"
	"errors"
	"fmt"

	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/imagepolicy/gitpush"
	"github.com/gitopskit/gitopskit/source/git"
)

// GitTransport maps a GitRepository's credentials (git.AuthFromSecretData)
// to the go-git authentication gitpush takes for repoURL, through
// source/git's own Auth.TransportAuth: HTTP basic auth, a bearer token, or
// an SSH key checked against the Secret's known_hosts (a server whose key
// is not listed is refused). A client certificate is refused by name:
// gitpush cannot present one yet. Errors never contain the credentials.
func GitTransport(a *git.Auth, repoURL string) (transport.AuthMethod, error) {
	if a == nil {
		return nil, nil
	}
	if len(a.CertFile) > 0 {
		return nil, errors.New("TLS client certificates ('tls.crt', 'tls.key') are not supported yet for pushing")
	}
	return a.TransportAuth(repoURL)
}

// short abbreviates a commit hash as Git shows it.
func short(hash string) string {
	if len(hash) > 7 {
		return hash[:7]
	}
	return hash
}

// credentials applies the GitRepository's secretRef and proxySecretRef to
// the ls-remote repository and the clone.
func (r *AutomationReconciler) credentials(ctx context.Context, src *sourcev1.GitRepository, repo *git.Repository, clone *gitpush.CloneOptions) error {
	if ref := src.Spec.SecretRef; ref != nil {
		data, err := fluxadapter.SecretData(ctx, r.Client, src.Namespace, ref.Name)
		if err != nil {
			return err
		}
		if repo.Auth, err = git.AuthFromSecretData(data, src.Spec.URL); err != nil {
			return fmt.Errorf("invalid Secret %q: %w", ref.Name, err)
		}
		if clone.Auth, err = GitTransport(repo.Auth, src.Spec.URL); err != nil {
			return fmt.Errorf("invalid Secret %q: %w", ref.Name, err)
		}
		clone.CABundle = repo.Auth.CAFile
	}
	if ref := src.Spec.ProxySecretRef; ref != nil {
		data, err := fluxadapter.SecretData(ctx, r.Client, src.Namespace, ref.Name)
		if err != nil {
			return err
		}
		if repo.Proxy, err = git.ProxyFromSecretData(data); err != nil {
			return fmt.Errorf("invalid proxy Secret %q: %w", ref.Name, err)
		}
		clone.Proxy.URL, clone.Proxy.Username, clone.Proxy.Password = repo.Proxy.URL, repo.Proxy.Username, repo.Proxy.Password
	}
	return nil
}

// signer reads spec.git.commit.signingKey's Secret into the commit
// options: "git.asc" (and "passphrase") for type gpg, "identity" (and
// "password") for type ssh, as in Flux.
func (r *AutomationReconciler) signer(ctx context.Context, obj *imageautov1.ImageUpdateAutomation, c *gitpush.CommitOptions) error {
	sk := obj.Spec.GitSpec.Commit.SigningKey
	if sk == nil {
		return nil
	}
	data, err := fluxadapter.SecretData(ctx, r.Client, obj.Namespace, sk.SecretRef.Name)
	if err != nil {
		return err
	}
	switch sk.Type {
	case imageautov1.SigningKeyTypeSSH:
		if len(data["identity"]) == 0 {
			return fmt.Errorf("signing key Secret %q has no 'identity'", sk.SecretRef.Name)
		}
		if c.Signer, err = gitpush.SSHSigner(data["identity"], string(data["password"])); err != nil {
			return fmt.Errorf("signing key Secret %q: %w", sk.SecretRef.Name, err)
		}
	case imageautov1.SigningKeyTypeGPG, "":
		if len(data["git.asc"]) == 0 {
			return fmt.Errorf("signing key Secret %q has no 'git.asc'", sk.SecretRef.Name)
		}
		if c.SignKey, err = gitpush.GPGSignKey(data["git.asc"], string(data["passphrase"])); err != nil {
			return fmt.Errorf("signing key Secret %q: %w", sk.SecretRef.Name, err)
		}
	default:
		return fmt.Errorf("signing key type '%s' is not supported: use 'gpg' or 'ssh'", sk.Type)
	}
	return nil
}
