package sopsdecrypttest_test

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

// Example encrypts a dotenv file for a secretGenerator and decrypts it
// through an AgeKeyService, as a build would through a KMS.
func Example() {
	id, _ := age.GenerateX25519Identity()
	enc, err := sopsdecrypttest.Encrypt([]byte("PASSWORD=s3cr3t\n"), "dotenv", "", id.Recipient().String())
	if err != nil {
		panic(err)
	}
	root, _ := os.MkdirTemp("", "sops")
	defer os.RemoveAll(root)
	_ = os.WriteFile(filepath.Join(root, "app.env"), enc, 0o644)
	_ = os.WriteFile(filepath.Join(root, "kustomization.yaml"), []byte("secretGenerator:\n  - name: creds\n    envs: [app.env]\n"), 0o644)

	kms := &sopsdecrypttest.AgeKeyService{Identities: []age.Identity{id}}
	res, err := kustomize.Build(context.Background(), root, ".", kustomize.Options{
		Decryptor: &sopsdecrypt.Decryptor{KeyServices: []sopsdecrypt.KeyService{kms}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Objects[0].Object["data"], kms.Calls)
	// Output: map[PASSWORD:czNjcjN0] 1
}
