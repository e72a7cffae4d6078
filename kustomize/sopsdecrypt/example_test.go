package sopsdecrypt_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"filippo.io/age"

	"github.com/gitopskit/gitopskit/kustomize"
	"github.com/gitopskit/gitopskit/kustomize/sopsdecrypt"
	"github.com/gitopskit/gitopskit/kustomize/sopsdecrypt/sopsdecrypttest"
)

// Example builds a tree holding a SOPS-encrypted Secret with the age key
// that opens it, as it would come from a Flux decryption Secret.
func Example() {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		panic(err)
	}
	plain := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: s3cr3t\n"
	enc, err := sopsdecrypttest.Encrypt([]byte(plain), "yaml", "^(data|stringData)$", id.Recipient().String())
	if err != nil {
		panic(err)
	}
	root, err := os.MkdirTemp("", "sops")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(root)
	if err := os.WriteFile(filepath.Join(root, "db.yaml"), enc, 0o644); err != nil {
		panic(err)
	}

	keys, err := sopsdecrypt.KeysFromSecretData(map[string][]byte{"identity.agekey": []byte(id.String())})
	if err != nil {
		panic(err)
	}
	res, err := kustomize.Build(context.Background(), root, ".", kustomize.Options{
		Decryptor: &sopsdecrypt.Decryptor{Keys: keys},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Objects[0].Object["stringData"])

	// Without a Decryptor the encrypted Secret is refused, not applied.
	_, err = kustomize.Build(context.Background(), root, ".", kustomize.Options{})
	fmt.Println(err)

	// With a key that does not match, the error says what was tried.
	other, _ := age.GenerateX25519Identity()
	_, err = kustomize.Build(context.Background(), root, ".", kustomize.Options{
		Decryptor: &sopsdecrypt.Decryptor{Keys: &sopsdecrypt.Keys{Age: []age.Identity{other}}},
	})
	fmt.Println(err != nil && len(err.Error()) > 0)
	// Output:
	// map[password:s3cr3t]
	// kustomize: Secret/db: object is still SOPS-encrypted
	// true
}
