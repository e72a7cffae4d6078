package sopsdecrypt_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/kustomize"
	"github.com/gitopskit/gitopskit/kustomize/sopsdecrypt"
	"github.com/gitopskit/gitopskit/kustomize/sopsdecrypt/sopsdecrypttest"
)

// sopsEnv holds freshly generated keys and runs the real sops CLI.
type sopsEnv struct {
	t         *testing.T
	sops      string
	home      string
	ageID     *age.X25519Identity
	pgpFpr    string
	pgpSecret []byte // armored private key
}

func newSopsEnv(t *testing.T) *sopsEnv {
	t.Helper()
	e := &sopsEnv{t: t, sops: testbin.Tool(t, "sops"), home: t.TempDir()}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	e.ageID = id
	ent, err := openpgp.NewEntity("gitopskit test", "", "test@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	var pub, priv bytes.Buffer
	w, _ := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err := ent.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w, _ = armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if err := ent.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	e.pgpSecret = priv.Bytes()
	e.pgpFpr = strings.ToUpper(fmt.Sprintf("%x", ent.PrimaryKey.Fingerprint))
	gnupg := filepath.Join(e.home, "gnupg")
	if err := os.MkdirAll(gnupg, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("gpg", "--batch", "--homedir", gnupg, "--import")
	cmd.Stdin = &pub
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gpg --import: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("gpgconf", "--homedir", gnupg, "--kill", "all").Run() })
	return e
}

// encrypt runs `sops --encrypt` on plain and returns the ciphertext.
func (e *sopsEnv) encrypt(plain, format string, pgp bool, extra ...string) []byte {
	e.t.Helper()
	src := filepath.Join(e.t.TempDir(), "in."+format)
	if err := os.WriteFile(src, []byte(plain), 0o600); err != nil {
		e.t.Fatal(err)
	}
	args := []string{"--encrypt", "--input-type", format, "--output-type", format}
	if pgp {
		args = append(args, "--pgp", e.pgpFpr)
	} else {
		args = append(args, "--age", e.ageID.Recipient().String())
	}
	args = append(append(args, extra...), src)
	cmd := exec.Command(e.sops, args...)
	cmd.Dir = e.home
	cmd.Env = []string{"HOME=" + e.home, "GNUPGHOME=" + filepath.Join(e.home, "gnupg"), "PATH=" + os.Getenv("PATH")}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		e.t.Fatalf("sops %v: %v: %s", args, err, stderr.String())
	}
	return out
}

func (e *sopsEnv) secretData() map[string][]byte {
	return map[string][]byte{
		"identity.agekey": []byte("# test key\n" + e.ageID.String() + "\n"),
		"signing.asc":     e.pgpSecret,
		"README":          []byte("ignored"),
	}
}

const secretYAML = `apiVersion: v1
kind: Secret
metadata:
  name: %s
type: Opaque
stringData:
  password: %s
data:
  token: %s
`

func writeFile(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSOPSDecryption(t *testing.T) {
	e := newSopsEnv(t)
	root := t.TempDir()
	regex := []string{"--encrypted-regex", "^(data|stringData)$"}
	b64 := base64.StdEncoding.EncodeToString
	writeFile(t, root, "app/age-secret.yaml", e.encrypt(fmt.Sprintf(secretYAML, "age-secret", "s3cr3t-age", b64([]byte("tok-age"))), "yaml", false, regex...))
	writeFile(t, root, "app/pgp-secret.yaml", e.encrypt(fmt.Sprintf(secretYAML, "pgp-secret", "s3cr3t-pgp", b64([]byte("tok-pgp"))), "yaml", true, regex...))
	js := `{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "json-secret"}, "stringData": {"k": "json-value"}}`
	writeFile(t, root, "app/json-secret.json", e.encrypt(js, "json", false, regex...))
	writeFile(t, root, "app/app.env", e.encrypt("DB_USER=admin\nDB_PASS=env-value\n", "dotenv", false))
	writeFile(t, root, "app/settings.json", e.encrypt(`{"apiKey": "json-file-value"}`, "json", true))
	writeFile(t, root, "app/settings.yaml", e.encrypt("apiKey: yaml-file-value\n", "yaml", false))
	writeFile(t, root, "app/settings.ini", e.encrypt("[main]\napiKey = ini-file-value\n", "ini", false))
	writeFile(t, root, "app/cert.pem", e.encrypt("-----BEGIN CERT-----\nbinary-file-value\n", "binary", false))
	writeFile(t, root, "app/kustomization.yaml", []byte(`resources:
  - age-secret.yaml
  - pgp-secret.yaml
  - json-secret.json
secretGenerator:
  - name: generated
    envs: [app.env]
    files:
      - settings.json
      - settings.yaml
      - settings.ini
      - tls.crt=cert.pem
generatorOptions:
  disableNameSuffixHash: true
`))
	before := snapshot(t, root)

	keys, err := sopsdecrypt.KeysFromSecretData(e.secretData())
	if err != nil {
		t.Fatal(err)
	}
	opts := kustomize.Options{TargetNamespace: "apps", Decryptor: &sopsdecrypt.Decryptor{Keys: keys}}
	res, err := kustomize.Build(context.Background(), root, "app", opts)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range res.Objects {
		if _, ok := o.Object["sops"]; ok {
			t.Errorf("%s still has sops metadata", o.GetName())
		}
		if o.GetNamespace() != "apps" {
			t.Errorf("%s: namespace %q", o.GetName(), o.GetNamespace())
		}
		for _, field := range []string{"data", "stringData"} {
			m, _ := o.Object[field].(map[string]any)
			for k, v := range m {
				s := v.(string)
				if field == "data" {
					d, _ := base64.StdEncoding.DecodeString(s)
					s = string(d)
				}
				got[o.GetName()+"/"+k] = strings.TrimSpace(s)
			}
		}
	}
	want := map[string]string{
		"age-secret/password":     "s3cr3t-age",
		"age-secret/token":        "tok-age",
		"pgp-secret/password":     "s3cr3t-pgp",
		"pgp-secret/token":        "tok-pgp",
		"json-secret/k":           "json-value",
		"generated/DB_USER":       "admin",
		"generated/DB_PASS":       "env-value",
		"generated/settings.json": "{\n\t\"apiKey\": \"json-file-value\"\n}",
		"generated/settings.yaml": "apiKey: yaml-file-value",
		"generated/settings.ini":  "[main]\napiKey = ini-file-value",
		"generated/tls.crt":       "-----BEGIN CERT-----\nbinary-file-value",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decrypted values (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, snapshot(t, root)); diff != "" {
		t.Errorf("source tree modified:\n%s", diff)
	}

	t.Run("wrong key", func(t *testing.T) {
		other, _ := age.GenerateX25519Identity()
		_, err := kustomize.Build(context.Background(), root, "app", kustomize.Options{Decryptor: &sopsdecrypt.Decryptor{Keys: &sopsdecrypt.Keys{Age: []age.Identity{other}}}})
		if err == nil {
			t.Fatal("decryption with a wrong key succeeded")
		}
		for _, secret := range []string{"s3cr3t", "env-value", "file-value", other.String()} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks %q: %v", secret, err)
			}
		}
		if !strings.Contains(err.Error(), "app.env") && !strings.Contains(err.Error(), "settings") && !strings.Contains(err.Error(), "-secret.yaml") {
			t.Errorf("error does not name the file: %v", err)
		}
		if !errors.Is(err, sopsdecrypt.ErrNoMatchingKey) {
			t.Errorf("got %v, want ErrNoMatchingKey", err)
		}
	})
	t.Run("key sources tried", func(t *testing.T) {
		root := t.TempDir()
		writeFile(t, root, "s.yaml", e.encrypt(fmt.Sprintf(secretYAML, "s", "v", b64([]byte("t"))), "yaml", false, regex...))
		other, _ := age.GenerateX25519Identity()
		for name, tc := range map[string]struct {
			d    *sopsdecrypt.Decryptor
			want []string
		}{
			"wrong age key": {&sopsdecrypt.Decryptor{Keys: &sopsdecrypt.Keys{Age: []age.Identity{other}}},
				[]string{"Secret/s", "age " + e.ageID.Recipient().String(), "1 age identity: none matched"}},
			"key service for other keys": {&sopsdecrypt.Decryptor{KeyServices: []sopsdecrypt.KeyService{pgpOnly{}}},
				[]string{"age " + e.ageID.Recipient().String(), "key service 1: does not handle age keys"}},
			"no keys at all": {&sopsdecrypt.Decryptor{},
				[]string{"age " + e.ageID.Recipient().String(), "no key source for this key type is configured"}},
		} {
			t.Run(name, func(t *testing.T) {
				_, err := kustomize.Build(context.Background(), root, ".", kustomize.Options{Decryptor: tc.d})
				if !errors.Is(err, sopsdecrypt.ErrNoMatchingKey) {
					t.Fatalf("got %v, want ErrNoMatchingKey", err)
				}
				for _, w := range append(tc.want, "no configured key source matched") {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error does not say %q: %v", w, err)
					}
				}
				if strings.Contains(err.Error(), "successful groups") {
					t.Errorf("error shows sops's key-group count: %v", err)
				}
			})
		}
	})
	t.Run("no decryption configured", func(t *testing.T) {
		// The encrypted generator source is met first, while kustomize reads it.
		_, err := kustomize.Build(context.Background(), root, "app", kustomize.Options{})
		if !errors.Is(err, kustomize.ErrStillEncrypted) || !strings.Contains(err.Error(), "app/app.env") || !strings.Contains(err.Error(), `secretGenerator "generated"`) {
			t.Errorf("got %v, want ErrStillEncrypted naming the generator and its file", err)
		}
		only := t.TempDir()
		writeFile(t, only, "s.yaml", e.encrypt(fmt.Sprintf(secretYAML, "age-secret", "s3cr3t-age", b64([]byte("tok-age"))), "yaml", false, regex...))
		_, err = kustomize.Build(context.Background(), only, ".", kustomize.Options{})
		if !errors.Is(err, kustomize.ErrStillEncrypted) || !strings.Contains(err.Error(), "Secret/age-secret") {
			t.Errorf("got %v, want ErrStillEncrypted naming the Secret", err)
		}
	})
	t.Run("key service double", func(t *testing.T) {
		ks := &sopsdecrypttest.AgeKeyService{Identities: []age.Identity{e.ageID}}
		root2 := t.TempDir()
		writeFile(t, root2, "s.yaml", e.encrypt(fmt.Sprintf(secretYAML, "via-kms", "kms-value", b64([]byte("t"))), "yaml", false, regex...))
		res, err := kustomize.Build(context.Background(), root2, ".", kustomize.Options{Decryptor: &sopsdecrypt.Decryptor{KeyServices: []sopsdecrypt.KeyService{ks}}})
		if err != nil {
			t.Fatal(err)
		}
		if v := res.Objects[0].Object["stringData"].(map[string]any)["password"]; v != "kms-value" || ks.Calls == 0 {
			t.Errorf("password %v, calls %d", v, ks.Calls)
		}
	})
	t.Run("opt-out and size cap", func(t *testing.T) {
		root3 := t.TempDir()
		enc := e.encrypt(fmt.Sprintf(secretYAML, "raw", "x", b64([]byte("y"))), "yaml", false, regex...)
		enc = bytes.Replace(enc, []byte("name: raw\n"), []byte("name: raw\n    annotations:\n        kustomize.toolkit.fluxcd.io/decrypt: disabled\n"), 1)
		writeFile(t, root3, "s.yaml", enc)
		res, err := kustomize.Build(context.Background(), root3, ".", kustomize.Options{Decryptor: &sopsdecrypt.Decryptor{Keys: keys}})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := res.Objects[0].Object["sops"]; !ok {
			t.Error("opted-out Secret was decrypted")
		}
		_, err = kustomize.Build(context.Background(), root, "app", kustomize.Options{Decryptor: &sopsdecrypt.Decryptor{Keys: keys, MaxFileSize: 100}})
		if !errors.Is(err, sopsdecrypt.ErrFileTooLarge) {
			t.Errorf("size cap: %v", err)
		}
	})
}

// pgpOnly is a key service that handles no age keys.
type pgpOnly struct{}

func (pgpOnly) DecryptDataKey(_ context.Context, key sopsdecrypt.MasterKey, _ []byte) ([]byte, error) {
	if key.Type != "pgp" {
		return nil, sopsdecrypt.ErrKeyNotSupported
	}
	return nil, errors.New("unreachable")
}

func TestKeysFromSecretDataErrors(t *testing.T) {
	_, err := sopsdecrypt.KeysFromSecretData(map[string][]byte{"bad.agekey": []byte("AGE-SECRET-KEY-1NOTVALID")})
	if err == nil || !strings.Contains(err.Error(), "bad.agekey") || strings.Contains(err.Error(), "NOTVALID") {
		t.Errorf("got %v", err)
	}
	_, err = sopsdecrypt.KeysFromSecretData(map[string][]byte{"bad.asc": []byte("garbage")})
	if err == nil || !strings.Contains(err.Error(), "bad.asc") {
		t.Errorf("got %v", err)
	}
}

func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
