package git

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/source/git/gittest"
	"golang.org/x/crypto/ssh"
)

// sign signs message with ssh-keygen -Y sign in namespace.
func sign(t *testing.T, key *gittest.SSHSigningKey, namespace string, message []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "msg")
	if err := os.WriteFile(f, message, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ssh-keygen", "-q", "-Y", "sign", "-n", namespace, "-f", key.PrivateKeyPath, f).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	sig, err := os.ReadFile(f + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	return string(sig)
}

func TestVerifySSHSignature(t *testing.T) {
	key := gittest.NewSSHSigningKey(t)
	other := gittest.NewSSHSigningKey(t)
	msg := []byte("tree 0000\n\nmessage\n")
	sig := sign(t, key, "git", msg)
	tests := []struct {
		name    string
		sig     string
		msg     []byte
		keys    []ssh.PublicKey
		wantErr string
	}{
		{"valid", sig, msg, []ssh.PublicKey{other.PublicKey, key.PublicKey}, ""},
		{"tampered message", sig, []byte("tree 0000\n\nmessage!\n"), []ssh.PublicKey{key.PublicKey}, "does not match"},
		{"other key", sig, msg, []ssh.PublicKey{other.PublicKey}, "not an expected key"},
		{"wrong namespace", sign(t, key, "file", msg), msg, []ssh.PublicKey{key.PublicKey}, "namespace"},
		{"not armored", "garbage", msg, []ssh.PublicKey{key.PublicKey}, "not armored"},
		{"bad base64", sshsigBegin + "\n!!!\n" + sshsigEnd, msg, []ssh.PublicKey{key.PublicKey}, "base64"},
		{"truncated", sshsigBegin + "\nU1NIU0lH\n" + sshsigEnd, msg, []ssh.PublicKey{key.PublicKey}, "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := verifySSHSignature(tt.sig, tt.msg, "git", tt.keys)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Marshal()) != string(key.PublicKey.Marshal()) {
				t.Error("wrong signer returned")
			}
		})
	}
}

func FuzzParseSSHSignature(f *testing.F) {
	f.Add(sshsigBegin + "\nU1NIU0lHAAAAAQ==\n" + sshsigEnd)
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseSSHSignature(s)
		_, _ = parseSSHSignature(sshsigBegin + "\n" + s + "\n" + sshsigEnd)
	})
}
