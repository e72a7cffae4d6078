package sopsdecrypt_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/kustomize"
	"github.com/gitopskit/gitopskit/kustomize/sopsdecrypt"
)

// TestSOPSIntegrity tries the attacks of someone who can push to the
// repository but does not hold the key: each build must be refused, with
// no plaintext in the error or the output.
func TestSOPSIntegrity(t *testing.T) {
	e := newSopsEnv(t)
	keys, err := sopsdecrypt.KeysFromSecretData(e.secretData())
	if err != nil {
		t.Fatal(err)
	}
	const secret = "t0p-s3cret-value"
	b64 := base64.StdEncoding.EncodeToString
	regex := []string{"--encrypted-regex", "^(data|stringData)$"}
	plain := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\ntype: Opaque\nstringData:\n  password: " + secret + "\n"
	enc := e.encrypt(plain, "yaml", false, regex...)
	encMacOnly := e.encrypt(plain, "yaml", false, append(regex, "--mac-only-encrypted")...)
	encEnv := e.encrypt("PASSWORD="+secret+"\n", "dotenv", false)
	replace := func(b []byte, old, new string) []byte {
		t.Helper()
		if !bytes.Contains(b, []byte(old)) {
			t.Fatalf("fixture lacks %q:\n%s", old, b)
		}
		return bytes.Replace(b, []byte(old), []byte(new), 1)
	}
	// tamperValue flips one character of the first encrypted value.
	tamperValue := func(b []byte) []byte {
		i := bytes.Index(b, []byte("ENC[AES256_GCM,data:")) + len("ENC[AES256_GCM,data:")
		out := append([]byte(nil), b...)
		if out[i] == 'A' {
			out[i] = 'B'
		} else {
			out[i] = 'A'
		}
		return out
	}
	const kus = "kustomization.yaml"
	tests := []struct {
		name  string
		files map[string][]byte
		want  error
		names []string // the error must contain each
	}{
		{"kind flipped to ConfigMap", map[string][]byte{
			"s.yaml": replace(enc, "kind: Secret", "kind: ConfigMap"),
			kus:      []byte("resources: [s.yaml]\n"),
		}, sopsdecrypt.ErrIntegrity, []string{"s.yaml"}},
		{"kind flipped, MAC over encrypted values only", map[string][]byte{
			"s.yaml": replace(encMacOnly, "kind: Secret", "kind: ConfigMap"),
			kus:      []byte("resources: [s.yaml]\n"),
		}, kustomize.ErrDecryptRefused, []string{"s.yaml", "ConfigMap/prod/db"}},
		{"namespace changed", map[string][]byte{
			"s.yaml": replace(enc, "namespace: prod", "namespace: attacker"),
			kus:      []byte("resources: [s.yaml]\n"),
		}, sopsdecrypt.ErrIntegrity, []string{"s.yaml"}},
		{"name changed", map[string][]byte{
			"s.yaml": replace(enc, "name: db", "name: leak"),
			kus:      []byte("resources: [s.yaml]\n"),
		}, sopsdecrypt.ErrIntegrity, []string{"s.yaml"}},
		{"ciphertext tampered", map[string][]byte{
			"s.yaml": tamperValue(enc),
			kus:      []byte("resources: [s.yaml]\n"),
		}, nil, []string{"s.yaml"}},
		{"MAC removed", map[string][]byte{
			"s.yaml": replace(enc, "mac: ENC[", "mac: XENC["),
			kus:      []byte("resources: [s.yaml]\n"),
		}, sopsdecrypt.ErrIntegrity, []string{"Secret/prod/db"}},
		{"mac_only_encrypted switched on", map[string][]byte{
			"s.yaml": replace(replace(enc, "namespace: prod", "namespace: attacker"), "sops:\n", "sops:\n    mac_only_encrypted: true\n"),
			kus:      []byte("resources: [s.yaml]\n"),
		}, sopsdecrypt.ErrIntegrity, []string{"s.yaml"}},
		{"kind changed by a patch", map[string][]byte{
			"s.yaml": enc,
			kus:      []byte("resources: [s.yaml]\npatches:\n  - target: {kind: Secret}\n    patch: '[{\"op\": \"replace\", \"path\": \"/kind\", \"value\": \"ConfigMap\"}]'\n"),
		}, kustomize.ErrDecryptRefused, []string{"ConfigMap/prod/db", "v1 Secret"}},
		{"file in both generators", map[string][]byte{
			"app.env": encEnv,
			kus:       []byte("secretGenerator:\n  - name: creds\n    envs: [app.env]\nconfigMapGenerator:\n  - name: public\n    envs: [app.env]\n"),
		}, kustomize.ErrDecryptRefused, []string{"app.env", `configMapGenerator "public"`, "secretGenerator"}},
		{"file in a configMapGenerator", map[string][]byte{
			"app.env": encEnv,
			kus:       []byte("configMapGenerator:\n  - name: public\n    files: [cfg=app.env]\n"),
		}, kustomize.ErrDecryptRefused, []string{"app.env", `configMapGenerator "public"`}},
		{"encrypted patch aimed at ConfigMaps", map[string][]byte{
			"s.yaml":  enc,
			"cm.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db\n  namespace: prod\n"),
			kus:       []byte("resources: [cm.yaml]\npatches:\n  - path: s.yaml\n    target: {kind: ConfigMap}\n"),
		}, kustomize.ErrDecryptRefused, []string{"s.yaml", "patches[0]"}},
		{"tampered SOPS document in a Secret entry", map[string][]byte{
			"s.yaml": []byte(fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: entry\ndata:\n  app.env: %s\n", b64(replace(encEnv, "sops_lastmodified=20", "sops_lastmodified=19")))),
			kus:      []byte("resources: [s.yaml]\n"),
		}, sopsdecrypt.ErrIntegrity, []string{"Secret/entry", "app.env"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, data := range tc.files {
				writeFile(t, root, name, data)
			}
			res, err := kustomize.Build(context.Background(), root, ".", kustomize.Options{Decryptor: &sopsdecrypt.Decryptor{Keys: keys}})
			if err == nil {
				t.Fatalf("build succeeded:\n%s", res.YAML())
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			for _, n := range tc.names {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("error does not name %q: %v", n, err)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks the plaintext: %v", err)
			}
		})
	}

	// Untouched, the same fixtures decrypt; kustomize may still move the
	// Secret, as the kustomization says.
	root := t.TempDir()
	writeFile(t, root, "s.yaml", enc)
	writeFile(t, root, "m.yaml", encMacOnly)
	writeFile(t, root, "app.env", encEnv)
	writeFile(t, root, kus, []byte("resources: [s.yaml]\nnamePrefix: x-\ncommonLabels: {team: a}\nsecretGenerator:\n  - name: creds\n    envs: [app.env]\n    options: {disableNameSuffixHash: true}\n"))
	res, err := kustomize.Build(context.Background(), root, ".", kustomize.Options{TargetNamespace: "apps", Decryptor: &sopsdecrypt.Decryptor{Keys: keys}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range res.Objects {
		if _, ok := o.Object["sops"]; ok {
			t.Errorf("%s still encrypted", o.GetName())
		}
		if sd, ok := o.Object["stringData"].(map[string]any); ok {
			got[o.GetNamespace()+"/"+o.GetName()] = fmt.Sprint(sd["password"])
		}
		if d, ok := o.Object["data"].(map[string]any); ok {
			v, _ := base64.StdEncoding.DecodeString(fmt.Sprint(d["PASSWORD"]))
			got[o.GetNamespace()+"/"+o.GetName()] = string(v)
		}
	}
	if want := map[string]string{"apps/x-db": secret, "apps/x-creds": secret}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
