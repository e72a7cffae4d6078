package image

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/imagepolicy/gitpush"
	"github.com/gitopskit/gitopskit/source/git"
)

// GitTransport maps a GitRepository's credentials (git.AuthFromSecretData)
// to the go-git authentication gitpush takes for repoURL: HTTP basic auth,
// a bearer token, or an SSH key checked against the Secret's known_hosts
// (a server whose key is not listed is refused). A client certificate is
// refused by name: gitpush cannot present one yet. Errors never contain
// the credentials.
func GitTransport(a *git.Auth, repoURL string) (transport.AuthMethod, error) {
	if a == nil {
		return nil, nil
	}
	if len(a.CertFile) > 0 {
		return nil, errors.New("TLS client certificates ('tls.crt', 'tls.key') are not supported yet for pushing")
	}
	u, err := url.Parse(repoURL)
	if err != nil || (u.Scheme != "ssh" && u.Scheme != "http" && u.Scheme != "https") {
		return nil, errors.New("repository URL must be http://, https:// or ssh://")
	}
	if u.Scheme != "ssh" {
		switch {
		case a.BearerToken != "":
			return &githttp.TokenAuth{Token: a.BearerToken}, nil
		case a.Username != "":
			return &githttp.BasicAuth{Username: a.Username, Password: a.Password}, nil
		}
		return nil, nil
	}
	signer, err := parseIdentity(a.Identity, a.Password)
	if err != nil {
		return nil, err
	}
	cb, err := knownHosts(a.KnownHosts)
	if err != nil {
		return nil, err
	}
	user := "git"
	if u.User != nil && u.User.Username() != "" {
		user = u.User.Username()
	}
	if a.Username != "" {
		user = a.Username
	}
	return &gitssh.PublicKeys{User: user, Signer: signer,
		HostKeyCallbackHelper: gitssh.HostKeyCallbackHelper{HostKeyCallback: cb}}, nil
}

// parseIdentity parses an SSH private key, recovering panics of the parser
// so secret data never ends up in a stack trace.
func parseIdentity(identity []byte, passphrase string) (s ssh.Signer, err error) {
	defer func() {
		if recover() != nil {
			s, err = nil, errors.New("SSH identity cannot be parsed")
		}
	}()
	if len(identity) == 0 {
		return nil, errors.New("SSH needs an identity (private key)")
	}
	if passphrase != "" {
		s, err = ssh.ParsePrivateKeyWithPassphrase(identity, []byte(passphrase))
	} else {
		s, err = ssh.ParsePrivateKey(identity)
	}
	if err != nil {
		return nil, errors.New("SSH identity cannot be parsed or decrypted")
	}
	return s, nil
}

// knownHosts returns a host key callback accepting only the keys listed
// for the host in known_hosts lines (plain or hashed host names).
func knownHosts(data []byte) (ssh.HostKeyCallback, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("SSH needs known_hosts: an unknown server is never trusted")
	}
	type entry struct {
		hosts []string
		key   ssh.PublicKey
	}
	var entries []entry
	for rest := data; len(bytes.TrimSpace(rest)) > 0; {
		_, hosts, key, _, next, err := ssh.ParseKnownHosts(rest)
		if err != nil {
			return nil, errors.New("known_hosts cannot be parsed")
		}
		entries = append(entries, entry{hosts, key})
		rest = next
	}
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		for _, e := range entries {
			if !bytes.Equal(e.key.Marshal(), key.Marshal()) {
				continue
			}
			for _, h := range e.hosts {
				if hostMatches(h, hostname) || (remote != nil && hostMatches(h, remote.String())) {
					return nil
				}
			}
		}
		return fmt.Errorf("SSH host key of %s is not in known_hosts", hostname)
	}, nil
}

// hostMatches reports whether a known_hosts host pattern (a name, a
// "[name]:port" or a hashed "|1|salt|hash" entry) names address.
func hostMatches(pattern, address string) bool {
	norm := knownhosts.Normalize(address)
	if strings.HasPrefix(pattern, "|1|") {
		return hashedMatch(pattern, norm)
	}
	return pattern == norm
}

// hashedMatch checks a hashed known_hosts entry with its own salt.
func hashedMatch(pattern, host string) bool {
	parts := strings.Split(pattern, "|")
	if len(parts) != 4 {
		return false
	}
	salt, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	mac := hmac.New(sha1.New, salt)
	mac.Write([]byte(host))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil)) == parts[3]
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
