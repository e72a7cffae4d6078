package sopsdecrypt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resource"

	"github.com/gitopskit/gitopskit/internal/sopsmark"
)

// fuzzSecret is the plaintext the fuzz seeds encrypt; no error may show it.
const fuzzSecret = "fuzz-s3cr3t-plaintext"

type plainStore interface {
	LoadPlainFile(in []byte) (sops.TreeBranches, error)
	EmitEncryptedFile(in sops.Tree) ([]byte, error)
}

// encryptFixture encrypts plain for id with the sops library, as the sops
// CLI does.
func encryptFixture(tb testing.TB, id *age.X25519Identity, plain string, f string, regex string) []byte {
	tb.Helper()
	st := storeFor(f).(plainStore)
	branches, err := st.LoadPlainFile([]byte(plain))
	if err != nil {
		tb.Fatal(err)
	}
	mk, err := sopsage.MasterKeyFromRecipient(id.Recipient().String())
	if err != nil {
		tb.Fatal(err)
	}
	tree := sops.Tree{Branches: branches, Metadata: sops.Metadata{KeyGroups: []sops.KeyGroup{{mk}}, EncryptedRegex: regex, Version: "3.13.3"}}
	key, errs := tree.GenerateDataKey()
	if len(errs) > 0 {
		tb.Fatal(errs)
	}
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(key, cipher)
	if err != nil {
		tb.Fatal(err)
	}
	tree.Metadata.LastModified = time.Now().UTC().Truncate(time.Second)
	if tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, key, tree.Metadata.LastModified.Format(time.RFC3339)); err != nil {
		tb.Fatal(err)
	}
	out, err := st.EmitEncryptedFile(tree)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func fuzzSession(f *testing.F) (*session, *age.X25519Identity) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	d := &Decryptor{Keys: &Keys{Age: []age.Identity{id}}}
	s, err := d.newSession(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	return s, id
}

// formats are the formats fuzz inputs are parsed in, by index.
var formats = []string{sopsmark.Binary, sopsmark.YAML, sopsmark.JSON, sopsmark.Dotenv, sopsmark.INI}

func formatIndex(f string) uint8 {
	for i, g := range formats {
		if g == f {
			return uint8(i)
		}
	}
	return 0
}

const fuzzSecretYAML = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\nstringData:\n  password: " + fuzzSecret + "\n"

// FuzzSOPSDecrypt feeds hostile documents of every format to the decrypt
// entry point used for generator sources and Secret entries: it must never
// panic, never show plaintext in an error, and only return plaintext whose
// MAC verified.
func FuzzSOPSDecrypt(f *testing.F) {
	d, id := fuzzSession(f)
	seeds := []struct {
		plain string
		f     string
		regex string
	}{
		{fuzzSecretYAML, sopsmark.YAML, "^(data|stringData)$"},
		{fuzzSecretYAML + "---\na: [1, {b: c}]\n", sopsmark.YAML, ""},
		{`{"apiVersion": "v1", "kind": "Secret", "stringData": {"k": "` + fuzzSecret + `"}, "n": [1, 2.5, true, null]}`, sopsmark.JSON, ""},
		{"A=" + fuzzSecret + "\n#comment\nB=\n", sopsmark.Dotenv, ""},
		{"[main]\nk = " + fuzzSecret + "\n", sopsmark.INI, ""},
		{"\x00\x01binary " + fuzzSecret, sopsmark.Binary, ""},
	}
	for _, s := range seeds {
		enc := encryptFixture(f, id, s.plain, s.f, s.regex)
		if plain, err := d.decrypt(enc, s.f, s.f); err != nil || !bytes.Contains(plain, []byte(fuzzSecret)) {
			f.Fatalf("seed of format %s does not decrypt: %v", s.f, err)
		}
		f.Add(enc, formatIndex(s.f))
		// Tampered variants: a flipped ciphertext byte, an edited plain value.
		if i := bytes.Index(enc, []byte("data:")); i >= 0 {
			t := append([]byte(nil), enc...)
			t[i+5] ^= 1
			f.Add(t, formatIndex(s.f))
		}
		f.Add(bytes.Replace(enc, []byte("prod"), []byte("evil"), 1), formatIndex(s.f))
	}
	f.Add([]byte("sops:\n  mac: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n"), formatIndex(sopsmark.YAML))
	f.Add([]byte("a: &a [x, x]\nb: [*a, *a]\nsops: {mac: 'ENC['}\n"), formatIndex(sopsmark.YAML))
	f.Fuzz(func(t *testing.T, data []byte, format uint8) {
		in := formats[int(format)%len(formats)]
		for _, out := range []string{in, sopsmark.JSON} {
			plain, err := d.decrypt(data, in, out)
			if err != nil {
				if strings.Contains(err.Error(), "panicked") {
					t.Fatalf("sops panicked: %v", err)
				}
				if strings.Contains(err.Error(), fuzzSecret) {
					t.Fatalf("error shows the plaintext: %v", err)
				}
				continue
			}
			if bytes.Contains(plain, []byte(fuzzSecret)) && !bytes.Contains(data, []byte("mac")) {
				t.Fatalf("plaintext from a document without a MAC")
			}
		}
	})
}

// FuzzSOPSResource feeds hostile manifests to the whole-object decryption
// after a build: anything but a v1 Secret must stay encrypted, and an
// object decrypts only when its MAC verifies.
func FuzzSOPSResource(f *testing.F) {
	d, id := fuzzSession(f)
	rf := provider.NewDefaultDepProvider().GetResourceFactory()
	secret := encryptFixture(f, id, fuzzSecretYAML, sopsmark.YAML, "^(data|stringData)$")
	if obj, err := objectOf(rf, secret); err != nil || d.DecryptObject(context.Background(), obj) != nil || !strings.Contains(fmt.Sprint(obj.Object), fuzzSecret) {
		f.Fatalf("seed Secret does not decrypt: %v", err)
	}
	f.Add(secret)
	f.Add(bytes.Replace(secret, []byte("kind: Secret"), []byte("kind: ConfigMap"), 1))
	f.Add(bytes.Replace(secret, []byte("namespace: prod"), []byte("namespace: evil"), 1))
	f.Add(bytes.Replace(secret, []byte("apiVersion: v1"), []byte("apiVersion: v2"), 1))
	f.Add(encryptFixture(f, id, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: "+fuzzSecret+"\n", sopsmark.YAML, "^data$"))
	f.Add([]byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: e\ndata:\n  x.env: QT1CCnNvcHNfbWFjPUVOQ1t4XQo=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		resources, err := func() (_ []*resourceT, err error) {
			defer func() {
				if recover() != nil {
					err = errParse
				}
			}()
			return rf.SliceFromBytes(data)
		}()
		if err != nil {
			return
		}
		for _, res := range resources {
			m, err := res.Map()
			if err != nil {
				continue
			}
			obj := &unstructured.Unstructured{Object: m}
			encrypted := encrypted(obj.Object)
			kind, api := obj.GetKind(), obj.GetAPIVersion()
			err = d.DecryptObject(context.Background(), obj)
			if err != nil {
				if strings.Contains(err.Error(), "panicked") {
					t.Fatalf("sops panicked: %v", err)
				}
				if strings.Contains(err.Error(), fuzzSecret) {
					t.Fatalf("error shows the plaintext: %v", err)
				}
				continue
			}
			if encrypted && (kind != "Secret" || api != "v1") {
				t.Fatalf("decrypted a %s %s", api, kind)
			}
		}
	})
}

type resourceT = resource.Resource

// objectOf parses one manifest into an object.
func objectOf(rf *resource.Factory, data []byte) (*unstructured.Unstructured, error) {
	res, err := rf.FromBytes(data)
	if err != nil {
		return nil, err
	}
	m, err := res.Map()
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}

var errParse = errors.New("parse panicked")
