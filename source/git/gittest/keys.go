package gittest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// Signer is a key the git CLI can sign commits and tags with: a *GPGKey or
// an *SSHSigningKey.
type Signer interface {
	// gitConfig returns the git -c arguments and environment that make git
	// sign with this key.
	gitConfig() (args []string, env []string)
}

// GPGKey is an OpenPGP signing key held in its own GnuPG home directory.
type GPGKey struct {
	// Home is the GNUPGHOME holding the secret key.
	Home string
	// Fingerprint is the primary key's fingerprint (upper-case hex).
	Fingerprint string
	// KeyID is the 16-hex-digit long key ID (upper-case).
	KeyID string
	// PublicKey is the armored public key ring.
	PublicKey string
}

// NewGPGKey generates an ed25519 OpenPGP signing key for name <email> with
// gpg in a fresh home directory; the gpg-agent it starts is stopped when the
// test ends.
func NewGPGKey(t testing.TB, name, email string) *GPGKey {
	t.Helper()
	// gpg-agent's socket path must stay short, so avoid t.TempDir's long names.
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		kill := exec.Command("gpgconf", "--kill", "all")
		kill.Env = append(os.Environ(), "GNUPGHOME="+home)
		_ = kill.Run()
		os.RemoveAll(home)
	})
	gpg := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("gpg", append([]string{"--batch", "--no-tty", "--quiet"}, args...)...)
		cmd.Env = append(os.Environ(), "GNUPGHOME="+home)
		out, err := cmd.Output()
		if err != nil {
			msg := ""
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			t.Fatalf("gpg %s: %v: %s", strings.Join(args, " "), err, msg)
		}
		return string(out)
	}
	gpg("--passphrase", "", "--quick-gen-key", name+" <"+email+">", "ed25519", "sign", "never")
	k := &GPGKey{Home: home}
	for _, line := range strings.Split(gpg("--with-colons", "--list-secret-keys"), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 9 && f[0] == "sec" && k.KeyID == "" {
			k.KeyID = f[4]
		}
		if len(f) > 9 && f[0] == "fpr" && k.Fingerprint == "" {
			k.Fingerprint = f[9]
		}
	}
	if k.KeyID == "" || k.Fingerprint == "" {
		t.Fatal("gpg: could not read back the generated key")
	}
	k.PublicKey = gpg("--armor", "--export", k.Fingerprint)
	return k
}

func (k *GPGKey) gitConfig() ([]string, []string) {
	return []string{"-c", "gpg.format=openpgp", "-c", "gpg.program=gpg", "-c", "user.signingkey=" + k.Fingerprint},
		[]string{"GNUPGHOME=" + k.Home}
}

// SSHSigningKey is an ed25519 SSH key that git signs with through
// ssh-keygen -Y sign.
type SSHSigningKey struct {
	// PrivateKeyPath is the OpenSSH private key file.
	PrivateKeyPath string
	// PublicKey is the key.
	PublicKey ssh.PublicKey
	// AuthorizedKey is the public key in authorized_keys format.
	AuthorizedKey string
}

// NewSSHSigningKey generates an ed25519 key and writes it where ssh-keygen
// can use it.
func NewSSHSigningKey(t testing.TB) *SSHSigningKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "gittest")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return &SSHSigningKey{PrivateKeyPath: path, PublicKey: sp, AuthorizedKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))}
}

func (k *SSHSigningKey) gitConfig() ([]string, []string) {
	return []string{"-c", "gpg.format=ssh", "-c", "user.signingkey=" + k.PrivateKeyPath}, nil
}

// NewClientKey generates an ed25519 SSH client key and returns its
// OpenSSH PEM encoding (optionally encrypted with passphrase) and public
// key.
func NewClientKey(t testing.TB, passphrase string) ([]byte, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "gittest")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "gittest", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), sp
}
