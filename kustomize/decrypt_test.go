package kustomize_test

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/kustomize"
)

func writeFile(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// SOPS-encrypted files as sops writes them (values shortened; nothing here
// decrypts, the tests only need the metadata).
const (
	encEnv    = "PASSWORD=ENC[AES256_GCM,data:EQ==,iv:NF==,tag:gi==,type:str]\nsops_age__list_0__map_recipient=age1q\nsops_lastmodified=2026-11-30T07:26:59Z\nsops_mac=ENC[AES256_GCM,data:lB==,iv:IA==,tag:N8==,type:str]\nsops_version=3.13.3\n"
	encYAML   = "apiKey: ENC[AES256_GCM,data:Tg==,iv:+t==,tag:o8==,type:str]\nsops:\n    lastmodified: \"2026-11-30T07:26:59Z\"\n    mac: ENC[AES256_GCM,data:6A==,iv:mH==,tag:0e==,type:str]\n    version: 3.13.3\n"
	encINI    = "[main]\nk = ENC[AES256_GCM,data:bw==,iv:OF==,tag:0O==,type:str]\n\n[sops]\nlastmodified = 2026-11-30T07:26:59Z\nmac          = ENC[AES256_GCM,data:n3==,iv:Vd==,tag:k2==,type:str]\n"
	encBinary = "{\n\t\"data\": \"ENC[AES256_GCM,data:NB==,iv:zC==,tag:1E==,type:str]\",\n\t\"sops\": {\n\t\t\"lastmodified\": \"2026-11-30T07:26:59Z\",\n\t\t\"mac\": \"ENC[AES256_GCM,data:Ej==,iv:Tb==,tag:kd==,type:str]\"\n\t}\n}"
	encSecret = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\nstringData:\n    password: ENC[AES256_GCM,data:Tg==,iv:+t==,tag:o8==,type:str]\nsops:\n    lastmodified: \"2026-11-30T07:26:59Z\"\n    mac: ENC[AES256_GCM,data:6A==,iv:mH==,tag:0e==,type:str]\n"
)

// TestEncryptedSourcesWithoutDecryptor: without a Decryptor, an encrypted
// generator source is refused as an encrypted Secret is, rather than
// becoming a Secret of ciphertext.
func TestEncryptedSourcesWithoutDecryptor(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  error    // nil: the build succeeds
		names []string // the error must contain each
	}{
		{"dotenv in envs", map[string]string{
			"app.env":            encEnv,
			"kustomization.yaml": "secretGenerator:\n  - name: creds\n    envs: [app.env]\n",
		}, kustomize.ErrStillEncrypted, []string{`secretGenerator "creds" in kustomization.yaml`, "app.env"}},
		{"deprecated env entry", map[string]string{
			"app.env":            encEnv,
			"kustomization.yaml": "secretGenerator:\n  - name: creds\n    env: app.env\n",
		}, kustomize.ErrStillEncrypted, []string{"app.env"}},
		{"yaml file with a key", map[string]string{
			"conf/settings.yaml": encYAML,
			"kustomization.yaml": "secretGenerator:\n  - name: creds\n    files: [config.yaml=conf/settings.yaml]\n",
		}, kustomize.ErrStillEncrypted, []string{"conf/settings.yaml"}},
		{"ini file", map[string]string{
			"s.ini":              encINI,
			"kustomization.yaml": "secretGenerator:\n  - name: creds\n    files: [s.ini]\n",
		}, kustomize.ErrStillEncrypted, []string{"s.ini"}},
		{"binary file", map[string]string{
			"tls.crt":            encBinary,
			"kustomization.yaml": "secretGenerator:\n  - name: tls\n    files: [tls.crt]\n",
		}, kustomize.ErrStillEncrypted, []string{"tls.crt"}},
		{"binary file under an env name", map[string]string{
			"blob.env":           encBinary,
			"kustomization.yaml": "secretGenerator:\n  - name: tls\n    files: [blob.env]\n",
		}, kustomize.ErrStillEncrypted, []string{"blob.env"}},
		{"in a base", map[string]string{
			"base/app.env":            encEnv,
			"base/kustomization.yaml": "secretGenerator:\n  - name: creds\n    envs: [app.env]\n",
			"kustomization.yaml":      "resources: [base]\n",
		}, kustomize.ErrStillEncrypted, []string{`secretGenerator "creds" in base/kustomization.yaml`, "base/app.env"}},
		{"configMapGenerator", map[string]string{
			"app.env":            encEnv,
			"kustomization.yaml": "configMapGenerator:\n  - name: public\n    envs: [app.env]\n",
		}, kustomize.ErrStillEncrypted, []string{`configMapGenerator "public"`, "only secretGenerator sources"}},
		{"MAC line removed", map[string]string{
			"app.env":            strings.Replace(encEnv, "sops_mac=", "x_mac=", 1),
			"kustomization.yaml": "secretGenerator:\n  - name: creds\n    envs: [app.env]\n",
		}, kustomize.ErrStillEncrypted, []string{"app.env"}},
		{"encrypted Secret manifest", map[string]string{
			"s.yaml":             encSecret,
			"kustomization.yaml": "resources: [s.yaml]\n",
		}, kustomize.ErrStillEncrypted, []string{"Secret/db"}},
		{"plain sources", map[string]string{
			"app.env":            "PASSWORD=plain\nNOTE=sops_mac=is mentioned\n",
			"settings.yaml":      "sops:\n  enabled: true\n",
			"kustomization.yaml": "secretGenerator:\n  - name: creds\n    envs: [app.env]\n    files: [settings.yaml]\n",
		}, nil, nil},
		{"opted out in the generator", map[string]string{
			"app.env":            encEnv,
			"kustomization.yaml": "secretGenerator:\n  - name: creds\n    envs: [app.env]\n    options:\n      annotations: {kustomize.toolkit.fluxcd.io/decrypt: disabled}\n",
		}, nil, nil},
		{"opted out in generatorOptions", map[string]string{
			"app.env":            encEnv,
			"kustomization.yaml": "secretGenerator:\n  - name: creds\n    envs: [app.env]\ngeneratorOptions:\n  annotations: {kustomize.toolkit.fluxcd.io/decrypt: disabled}\n",
		}, nil, nil},
		{"opted-out Secret manifest", map[string]string{
			"s.yaml":             strings.Replace(encSecret, "name: db\n", "name: db\n    annotations:\n        kustomize.toolkit.fluxcd.io/decrypt: disabled\n", 1),
			"kustomization.yaml": "resources: [s.yaml]\n",
		}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, data := range tc.files {
				writeFile(t, root, name, []byte(data))
			}
			res, err := kustomize.Build(context.Background(), root, ".", kustomize.Options{})
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("build succeeded:\n%s", res.YAML())
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			for _, n := range tc.names {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("error does not name %q: %v", n, err)
				}
			}
		})
	}
}

// fakeDecryptor "decrypts" by replacing each input with a fixed plaintext
// and records what Build asked of it.
type fakeDecryptor struct {
	sessionErr error
	plain      map[string]string // by path: the plaintext to return
	object     func(*unstructured.Unstructured)
	calls      []string
}

func (d *fakeDecryptor) NewSession(context.Context) (kustomize.DecryptSession, error) {
	if d.sessionErr != nil {
		return nil, d.sessionErr
	}
	return d, nil
}

func (d *fakeDecryptor) VerifyManifest(_ context.Context, f kustomize.EncryptedFile) error {
	d.calls = append(d.calls, "verify "+f.Path+" "+f.Format)
	return nil
}

func (d *fakeDecryptor) DecryptSecretPatch(_ context.Context, f kustomize.EncryptedFile) ([]byte, error) {
	d.calls = append(d.calls, "patch "+f.Path+" "+f.Format)
	return []byte(d.plain[f.Path]), nil
}

func (d *fakeDecryptor) DecryptSecretSource(_ context.Context, f kustomize.EncryptedFile) ([]byte, error) {
	d.calls = append(d.calls, "source "+f.Path+" "+f.Format)
	return []byte(d.plain[f.Path]), nil
}

func (d *fakeDecryptor) DecryptObject(_ context.Context, obj *unstructured.Unstructured) error {
	d.calls = append(d.calls, "object "+obj.GetKind()+"/"+obj.GetName())
	if d.object != nil {
		d.object(obj)
	}
	return nil
}

// TestDecryptorContract checks what Build hands a Decryptor and what it
// enforces whatever the Decryptor does.
func TestDecryptorContract(t *testing.T) {
	build := func(t *testing.T, d *fakeDecryptor, files map[string]string) (*kustomize.Result, error) {
		t.Helper()
		root := t.TempDir()
		for name, data := range files {
			writeFile(t, root, name, []byte(data))
		}
		return kustomize.Build(context.Background(), root, ".", kustomize.Options{Decryptor: d})
	}
	t.Run("calls", func(t *testing.T) {
		d := &fakeDecryptor{
			plain: map[string]string{"app.env": "PASSWORD=plain\n", "conf.ini": "[main]\nk = v\n", "p.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  extra: x\n"},
			object: func(obj *unstructured.Unstructured) {
				delete(obj.Object, "sops")
				_ = unstructured.SetNestedField(obj.Object, "decrypted", "stringData", "password")
			},
		}
		res, err := build(t, d, map[string]string{
			"s.yaml":    encSecret,
			"app.env":   encEnv,
			"conf.ini":  encINI,
			"p.yaml":    strings.Replace(encSecret, "stringData", "data", 1),
			"plain.env": "A=b\n",
			"kustomization.yaml": "resources: [s.yaml]\npatches:\n  - path: p.yaml\n    target: {kind: Secret}\n" +
				"secretGenerator:\n  - name: creds\n    envs: [app.env, plain.env]\n    files: [conf.ini]\n    options: {disableNameSuffixHash: true}\n",
		})
		if err != nil {
			t.Fatal(err)
		}
		// The generated Secret holds plaintext by then: no object call for it.
		want := []string{"verify s.yaml yaml", "patch p.yaml yaml", "source conf.ini ini", "source app.env dotenv", "object Secret/db"}
		if diff := cmp.Diff(want, d.calls); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		var creds, db *unstructured.Unstructured
		for _, o := range res.Objects {
			switch o.GetName() {
			case "creds":
				creds = o
			case "db":
				db = o
			}
		}
		if v, _, _ := unstructured.NestedString(creds.Object, "data", "PASSWORD"); v != base64.StdEncoding.EncodeToString([]byte("plain")) {
			t.Errorf("generated Secret holds %q, not the plaintext", v)
		}
		if v, _, _ := unstructured.NestedString(db.Object, "stringData", "password"); v != "decrypted" {
			t.Errorf("decrypted Secret holds %q", v)
		}
	})
	t.Run("session error", func(t *testing.T) {
		boom := errors.New("keys unavailable")
		_, err := build(t, &fakeDecryptor{sessionErr: boom}, map[string]string{"kustomization.yaml": "resources: []\n"})
		if !errors.Is(err, boom) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("refused before decryption", func(t *testing.T) {
		for name, files := range map[string]map[string]string{
			"configMapGenerator": {"app.env": encEnv, "kustomization.yaml": "configMapGenerator:\n  - name: public\n    envs: [app.env]\n"},
			"patch aimed at ConfigMaps": {
				"p.yaml": encSecret, "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db\n",
				"kustomization.yaml": "resources: [cm.yaml]\npatches:\n  - path: p.yaml\n    target: {kind: ConfigMap}\n",
			},
			"encrypted ConfigMap": {"c.yaml": strings.Replace(encSecret, "kind: Secret", "kind: ConfigMap", 1), "kustomization.yaml": "resources: [c.yaml]\n"},
		} {
			t.Run(name, func(t *testing.T) {
				d := &fakeDecryptor{}
				_, err := build(t, d, files)
				if !errors.Is(err, kustomize.ErrDecryptRefused) {
					t.Errorf("got %v, want ErrDecryptRefused", err)
				}
				for _, c := range d.calls {
					if !strings.HasPrefix(c, "verify ") {
						t.Errorf("asked to decrypt: %s", c)
					}
				}
			})
		}
	})
	t.Run("decrypted to a ConfigMap", func(t *testing.T) {
		d := &fakeDecryptor{object: func(obj *unstructured.Unstructured) {
			delete(obj.Object, "sops")
			obj.SetKind("ConfigMap")
		}}
		_, err := build(t, d, map[string]string{"s.yaml": encSecret, "kustomization.yaml": "resources: [s.yaml]\n"})
		if !errors.Is(err, kustomize.ErrDecryptRefused) {
			t.Errorf("got %v, want ErrDecryptRefused", err)
		}
	})
	t.Run("left encrypted", func(t *testing.T) {
		_, err := build(t, &fakeDecryptor{}, map[string]string{"s.yaml": encSecret, "kustomization.yaml": "resources: [s.yaml]\n"})
		if !errors.Is(err, kustomize.ErrStillEncrypted) {
			t.Errorf("got %v, want ErrStillEncrypted", err)
		}
	})
}
