package main

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keys"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
)

// sopsVersion is written into the SOPS metadata: the library version.
const sopsVersion = "3.13.3"

// encryptYAML encrypts the data and stringData values of a Kubernetes YAML
// manifest for an age recipient, the way
// `sops --encrypt --age <recipient> --encrypted-regex '^(data|stringData)$'`
// does.
func encryptYAML(plain []byte, recipient string) ([]byte, error) {
	store := sopsyaml.NewStore(&config.YAMLStoreConfig{})
	branches, err := store.LoadPlainFile(plain)
	if err != nil {
		return nil, fmt.Errorf("sops: reading the manifest: %w", err)
	}
	ageKeys, err := sopsage.MasterKeysFromRecipients(recipient)
	if err != nil {
		return nil, fmt.Errorf("sops: age recipient: %w", err)
	}
	dataKey := make([]byte, 32)
	if _, err := rand.Read(dataKey); err != nil {
		return nil, err
	}
	var group sops.KeyGroup
	for _, k := range ageKeys {
		if err := k.Encrypt(dataKey); err != nil {
			return nil, fmt.Errorf("sops: encrypting the data key: %w", err)
		}
		group = append(group, keys.MasterKey(k))
	}
	tree := sops.Tree{
		Branches: branches,
		Metadata: sops.Metadata{
			KeyGroups:      []sops.KeyGroup{group},
			EncryptedRegex: "^(data|stringData)$",
			Version:        sopsVersion,
		},
	}
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		return nil, fmt.Errorf("sops: encrypting: %w", err)
	}
	tree.Metadata.LastModified = time.Now().UTC()
	tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return nil, fmt.Errorf("sops: encrypting the MAC: %w", err)
	}
	return store.EmitEncryptedFile(tree)
}
