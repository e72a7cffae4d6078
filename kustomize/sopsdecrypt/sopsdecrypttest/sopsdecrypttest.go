package sopsdecrypttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keys"
	"github.com/getsops/sops/v3/stores/dotenv"
	"github.com/getsops/sops/v3/stores/ini"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"

	"github.com/gitopskit/gitopskit/kustomize/sopsdecrypt"
)

// AgeKeyService is a KeyService double standing in for a KMS: it answers
// for master keys of type "age" with its identities, as a remote key
// service would, and reports sopsdecrypt.ErrKeyNotSupported for other
// types. Calls counts the requests it served. It is not safe for
// concurrent use.
type AgeKeyService struct {
	// Identities open the data keys encrypted for their recipients.
	Identities []age.Identity
	// Calls counts the age data keys the service was asked to decrypt.
	Calls int
}

var _ sopsdecrypt.KeyService = (*AgeKeyService)(nil)

// DecryptDataKey implements sopsdecrypt.KeyService.
func (s *AgeKeyService) DecryptDataKey(_ context.Context, key sopsdecrypt.MasterKey, enc []byte) ([]byte, error) {
	if key.Type != "age" {
		return nil, sopsdecrypt.ErrKeyNotSupported
	}
	s.Calls++
	r, err := age.Decrypt(armor.NewReader(bytes.NewReader(enc)), s.Identities...)
	if err != nil {
		return nil, fmt.Errorf("age key service: %w", err)
	}
	return io.ReadAll(r)
}

type store interface {
	LoadPlainFile(in []byte) (sops.TreeBranches, error)
	EmitEncryptedFile(in sops.Tree) ([]byte, error)
}

// Encrypt encrypts plain for the age recipients as `sops --encrypt --age
// <recipients> --encrypted-regex <encryptedRegex>` does. format is "yaml",
// "json", "dotenv", "ini" or "binary"; an empty encryptedRegex encrypts
// every value.
func Encrypt(plain []byte, format, encryptedRegex string, recipients ...string) ([]byte, error) {
	var st store
	switch format {
	case "yaml":
		st = sopsyaml.NewStore(&config.YAMLStoreConfig{})
	case "json":
		st = sopsjson.NewStore(&config.JSONStoreConfig{})
	case "dotenv":
		st = dotenv.NewStore(&config.DotenvStoreConfig{})
	case "ini":
		st = ini.NewStore(&config.INIStoreConfig{})
	case "binary":
		st = sopsjson.NewBinaryStore(&config.JSONBinaryStoreConfig{})
	default:
		return nil, fmt.Errorf("sopsdecrypttest: unknown format %q", format)
	}
	if len(recipients) == 0 {
		return nil, errors.New("sopsdecrypttest: no recipients")
	}
	branches, err := st.LoadPlainFile(plain)
	if err != nil {
		return nil, fmt.Errorf("sopsdecrypttest: read the plaintext: %w", err)
	}
	var group sops.KeyGroup
	for _, r := range recipients {
		mk, err := sopsage.MasterKeyFromRecipient(r)
		if err != nil {
			return nil, fmt.Errorf("sopsdecrypttest: age recipient: %w", err)
		}
		group = append(group, keys.MasterKey(mk))
	}
	tree := sops.Tree{Branches: branches, Metadata: sops.Metadata{KeyGroups: []sops.KeyGroup{group}, EncryptedRegex: encryptedRegex, Version: "3.13.3"}}
	key, errs := tree.GenerateDataKey()
	if len(errs) > 0 {
		return nil, fmt.Errorf("sopsdecrypttest: encrypt the data key: %w", errors.Join(errs...))
	}
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(key, cipher)
	if err != nil {
		return nil, fmt.Errorf("sopsdecrypttest: encrypt: %w", err)
	}
	tree.Metadata.LastModified = time.Now().UTC().Truncate(time.Second)
	if tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, key, tree.Metadata.LastModified.Format(time.RFC3339)); err != nil {
		return nil, fmt.Errorf("sopsdecrypttest: encrypt the MAC: %w", err)
	}
	return st.EmitEncryptedFile(tree)
}
