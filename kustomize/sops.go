package kustomize

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/ProtonMail/go-crypto/openpgp"
	pgparmor "github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/stores/dotenv"
	"github.com/getsops/sops/v3/stores/ini"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"sigs.k8s.io/kustomize/api/resource"
	kustypes "sigs.k8s.io/kustomize/api/types"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"
)

// DefaultMaxDecryptFileSize caps the size of one encrypted file or object
// when Decryption.MaxFileSize is zero.
const DefaultMaxDecryptFileSize = 5 << 20

// ErrStillEncrypted reports an object that still carries SOPS metadata after
// the build (no decryption configured, or the key was not available).
var ErrStillEncrypted = errors.New("object is still SOPS-encrypted")

// ErrKeyNotSupported is returned by a KeyService that does not handle a
// master key, so the next one is tried.
var ErrKeyNotSupported = errors.New("key service does not handle this master key")

// ErrDecryptFileTooLarge reports an encrypted file over the size cap.
var ErrDecryptFileTooLarge = errors.New("encrypted file exceeds the size limit")

// Decryption configures SOPS decryption (Flux's spec.decryption with
// provider sops).
type Decryption struct {
	// Keys supplies age identities and OpenPGP private keys. Nil means no
	// local keys (only KeyServices are asked).
	Keys KeySource
	// KeyServices are asked, in order, for master keys the local keys cannot
	// open (KMS, Vault and the like).
	KeyServices []KeyService
	// MaxFileSize caps each encrypted file or object; zero means
	// DefaultMaxDecryptFileSize.
	MaxFileSize int64
}

// KeySource supplies the private keys used for decryption.
type KeySource interface {
	LoadKeys(ctx context.Context) (*Keys, error)
}

// Keys holds private keys in memory. It is a KeySource returning itself.
type Keys struct {
	Age []age.Identity
	PGP openpgp.EntityList
}

// LoadKeys implements KeySource.
func (k *Keys) LoadKeys(context.Context) (*Keys, error) { return k, nil }

// KeysFromSecretData parses the data of a Kubernetes Secret the way Flux
// does: entries whose key ends in ".agekey" hold age identities, entries
// ending in ".asc" hold armored OpenPGP private keys; others are ignored.
// Errors name the entry, never its content.
func KeysFromSecretData(data map[string][]byte) (*Keys, error) {
	k := &Keys{}
	for name, v := range data {
		switch {
		case strings.HasSuffix(name, ".agekey"):
			ids, err := age.ParseIdentities(bytes.NewReader(v))
			if err != nil {
				return nil, fmt.Errorf("decryption keys: entry %q: invalid age identities", name)
			}
			k.Age = append(k.Age, ids...)
		case strings.HasSuffix(name, ".asc"):
			ents, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(v))
			if err != nil {
				return nil, fmt.Errorf("decryption keys: entry %q: invalid armored OpenPGP key", name)
			}
			k.PGP = append(k.PGP, ents...)
		}
	}
	return k, nil
}

// MasterKey identifies one master key of a SOPS file for a KeyService.
type MasterKey struct {
	// Type is the SOPS key type: "age", "pgp", "kms", "gcp_kms", "azure_kv",
	// "hc_vault" or "hckms".
	Type string
	// ID is the recipient, fingerprint, ARN, resource ID or URL of the key.
	ID string
}

// KeyService decrypts SOPS data keys with master keys it controls (a KMS, a
// Vault transit engine, ...). It returns ErrKeyNotSupported for keys it
// does not handle.
type KeyService interface {
	DecryptDataKey(ctx context.Context, key MasterKey, encryptedKey []byte) ([]byte, error)
}

// keyServer is an in-process SOPS key service answering decryption requests
// with the in-memory keys and the plugged-in key services.
type keyServer struct {
	keyservice.UnimplementedKeyServiceServer
	ctx      context.Context
	keys     *Keys
	services []KeyService
}

func masterKeyOf(k *keyservice.Key) MasterKey {
	switch t := k.GetKeyType().(type) {
	case *keyservice.Key_AgeKey:
		return MasterKey{Type: "age", ID: t.AgeKey.GetRecipient()}
	case *keyservice.Key_PgpKey:
		return MasterKey{Type: "pgp", ID: t.PgpKey.GetFingerprint()}
	case *keyservice.Key_KmsKey:
		return MasterKey{Type: "kms", ID: t.KmsKey.GetArn()}
	case *keyservice.Key_GcpKmsKey:
		return MasterKey{Type: "gcp_kms", ID: t.GcpKmsKey.GetResourceId()}
	case *keyservice.Key_AzureKeyvaultKey:
		a := t.AzureKeyvaultKey
		return MasterKey{Type: "azure_kv", ID: strings.TrimSuffix(a.GetVaultUrl(), "/") + "/keys/" + a.GetName() + "/" + a.GetVersion()}
	case *keyservice.Key_VaultKey:
		v := t.VaultKey
		return MasterKey{Type: "hc_vault", ID: strings.TrimSuffix(v.GetVaultAddress(), "/") + "/v1/" + v.GetEnginePath() + "/keys/" + v.GetKeyName()}
	case *keyservice.Key_HckmsKey:
		return MasterKey{Type: "hckms", ID: t.HckmsKey.GetKeyId()}
	}
	return MasterKey{Type: "unknown"}
}

// Encrypt is not offered: this service only decrypts.
func (s *keyServer) Encrypt(context.Context, *keyservice.EncryptRequest) (*keyservice.EncryptResponse, error) {
	return nil, errors.New("encryption is not supported")
}

// Decrypt implements keyservice.KeyServiceServer.
func (s *keyServer) Decrypt(_ context.Context, req *keyservice.DecryptRequest) (*keyservice.DecryptResponse, error) {
	mk := masterKeyOf(req.GetKey())
	var local error
	switch mk.Type {
	case "age":
		if s.keys != nil && len(s.keys.Age) > 0 {
			r, err := age.Decrypt(armor.NewReader(bytes.NewReader(req.GetCiphertext())), s.keys.Age...)
			if err == nil {
				var out []byte
				if out, err = io.ReadAll(r); err == nil {
					return &keyservice.DecryptResponse{Plaintext: out}, nil
				}
			}
			local = fmt.Errorf("age recipient %s: no matching identity", mk.ID)
		}
	case "pgp":
		if s.keys != nil && len(s.keys.PGP) > 0 {
			out, err := decryptPGP(req.GetCiphertext(), s.keys.PGP)
			if err == nil {
				return &keyservice.DecryptResponse{Plaintext: out}, nil
			}
			local = fmt.Errorf("pgp key %s: %w", mk.ID, err)
		}
	}
	for _, ks := range s.services {
		out, err := ks.DecryptDataKey(s.ctx, mk, req.GetCiphertext())
		if err == nil {
			return &keyservice.DecryptResponse{Plaintext: out}, nil
		}
		if !errors.Is(err, ErrKeyNotSupported) {
			return nil, fmt.Errorf("%s key %s: %w", mk.Type, mk.ID, err)
		}
	}
	if local != nil {
		return nil, local
	}
	return nil, fmt.Errorf("no key available for %s key %s", mk.Type, mk.ID)
}

func decryptPGP(ciphertext []byte, ring openpgp.EntityList) (_ []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("OpenPGP decryption panicked")
		}
	}()
	block, err := pgparmor.Decode(bytes.NewReader(ciphertext))
	if err != nil {
		return nil, fmt.Errorf("invalid armored data key")
	}
	md, err := openpgp.ReadMessage(block.Body, ring, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("no matching private key")
	}
	return io.ReadAll(md.UnverifiedBody)
}

// decryptor decrypts SOPS files and objects for one build.
type decryptor struct {
	fsys    *confinedFS
	max     int64
	clients []keyservice.KeyServiceClient
}

func newDecryptor(ctx context.Context, fsys *confinedFS, d *Decryption) (*decryptor, error) {
	srv := &keyServer{ctx: ctx, services: d.KeyServices}
	if d.Keys != nil {
		k, err := d.Keys.LoadKeys(ctx)
		if err != nil {
			return nil, fmt.Errorf("kustomize: load decryption keys: %w", err)
		}
		srv.keys = k
	}
	max := d.MaxFileSize
	if max <= 0 {
		max = DefaultMaxDecryptFileSize
	}
	return &decryptor{fsys: fsys, max: max, clients: []keyservice.KeyServiceClient{keyservice.NewCustomLocalClient(srv)}}, nil
}

type sopsFormat int

const (
	fmtBinary sopsFormat = iota
	fmtYAML
	fmtJSON
	fmtDotenv
	fmtINI
)

// markers are substrings present in every SOPS-encrypted file of a format.
var markers = map[sopsFormat][]byte{
	fmtYAML:   []byte("mac: ENC["),
	fmtJSON:   []byte(`"mac": "ENC[`),
	fmtDotenv: []byte("sops_mac=ENC["),
	fmtINI:    []byte("[sops]"),
	fmtBinary: []byte(`"mac": "ENC[`),
}

func formatForPath(p string) sopsFormat {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".yaml", ".yml":
		return fmtYAML
	case ".json":
		return fmtJSON
	case ".env":
		return fmtDotenv
	case ".ini":
		return fmtINI
	}
	return fmtBinary
}

func detectFormat(data []byte) (sopsFormat, bool) {
	for _, f := range []sopsFormat{fmtYAML, fmtJSON, fmtDotenv, fmtINI} {
		if bytes.Contains(data, markers[f]) {
			return f, true
		}
	}
	return fmtBinary, false
}

type sopsStore interface {
	LoadEncryptedFile(in []byte) (sops.Tree, error)
	EmitPlainFile(in sops.TreeBranches) ([]byte, error)
}

func storeFor(f sopsFormat) sopsStore {
	switch f {
	case fmtYAML:
		return sopsyaml.NewStore(&config.YAMLStoreConfig{})
	case fmtJSON:
		return sopsjson.NewStore(&config.JSONStoreConfig{Indent: -1})
	case fmtDotenv:
		return dotenv.NewStore(&config.DotenvStoreConfig{})
	case fmtINI:
		return ini.NewStore(&config.INIStoreConfig{})
	}
	return sopsjson.NewBinaryStore(&config.JSONBinaryStoreConfig{Indent: -1})
}

// decrypt opens a SOPS document. checkMAC verifies the document's MAC,
// which only holds for files kustomize has not rewritten. Errors never carry
// decrypted values.
func (d *decryptor) decrypt(data []byte, in, out sopsFormat, checkMAC bool) (_ []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sops panicked while decrypting")
		}
	}()
	if int64(len(data)) > d.max {
		return nil, fmt.Errorf("%w (%d bytes > %d)", ErrDecryptFileTooLarge, len(data), d.max)
	}
	tree, err := storeFor(in).LoadEncryptedFile(data)
	if err != nil {
		return nil, fmt.Errorf("load SOPS document: %w", err)
	}
	key, err := tree.Metadata.GetDataKeyWithKeyServices(d.clients, sops.DefaultDecryptionOrder)
	if err != nil {
		return nil, fmt.Errorf("get SOPS data key: %w", err)
	}
	cipher := aes.NewCipher()
	mac, err := tree.Decrypt(key, cipher)
	if err != nil {
		return nil, errors.New("decrypt SOPS document: a value could not be decrypted")
	}
	if checkMAC {
		orig, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, key, tree.Metadata.LastModified.Format(time.RFC3339))
		if err != nil || orig != mac {
			return nil, errors.New("SOPS integrity check failed (MAC mismatch)")
		}
	}
	return storeFor(out).EmitPlainFile(tree.Branches)
}

// decryptSources decrypts, into the in-memory overlay, the files the
// kustomizations reachable from dir feed to secretGenerator (files, envs)
// and patches, so kustomize reads plain text.
func (d *decryptor) decryptSources(ctx context.Context, dir string) error {
	visited := map[string]bool{}
	done := map[string]bool{}
	var visit func(dir string) error
	visit = func(dir string) error {
		if visited[dir] {
			return nil
		}
		visited[dir] = true
		if err := ctx.Err(); err != nil {
			return err
		}
		file, err := kustomizationFile(d.fsys, dir)
		if err != nil || file == "" {
			return nil // not a kustomization directory; kustomize reports it
		}
		raw, err := d.fsys.ReadFile(file)
		if err != nil {
			return err
		}
		var kus kustypes.Kustomization
		if err := yaml.Unmarshal(raw, &kus); err != nil {
			return nil
		}
		ref := func(p string, f sopsFormat) error {
			abs, err := d.fsys.resolve(filepath.Join(dir, filepath.FromSlash(p)))
			if err != nil {
				return fmt.Errorf("kustomize: decrypt: %w", err)
			}
			if done[abs] {
				return nil
			}
			done[abs] = true
			return d.decryptFile(abs, f)
		}
		for _, g := range kus.SecretGenerator {
			for _, src := range g.FileSources {
				key, p, found := strings.Cut(src, "=")
				if !found {
					p = key
				}
				if err := ref(p, formatForPath(key)); err != nil {
					return err
				}
			}
			for _, env := range g.EnvSources {
				f := formatForPath(env)
				if f == fmtBinary {
					f = fmtDotenv
				}
				if err := ref(env, f); err != nil {
					return err
				}
			}
		}
		for _, p := range kus.Patches {
			if p.Path != "" {
				if err := ref(p.Path, formatForPath(p.Path)); err != nil {
					return err
				}
			}
		}
		subs := append(append([]string{}, kus.Resources...), kus.Components...)
		for _, r := range subs {
			p := filepath.Join(dir, filepath.FromSlash(r))
			if strings.Contains(r, "://") || !d.fsys.IsDir(p) {
				continue
			}
			abs, err := d.fsys.resolve(p)
			if err != nil {
				return fmt.Errorf("kustomize: decrypt: %w", err)
			}
			if err := visit(abs); err != nil {
				return err
			}
		}
		return nil
	}
	return visit(dir)
}

func (d *decryptor) decryptFile(abs string, f sopsFormat) error {
	rel := d.fsys.rel(abs)
	if _, ok := d.fsys.overlayFile(abs); !ok {
		fi, err := os.Lstat(abs)
		if err != nil {
			return fmt.Errorf("kustomize: decrypt: %w", &PathError{Path: rel, Err: unwrapPathErr(err)})
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("kustomize: decrypt: %w", &PathError{Path: rel, Err: errors.New("not a regular file")})
		}
		if fi.Size() > d.max {
			return fmt.Errorf("kustomize: decrypt: %w", &PathError{Path: rel, Err: fmt.Errorf("%w (%d bytes > %d)", ErrDecryptFileTooLarge, fi.Size(), d.max)})
		}
	}
	data, err := d.fsys.ReadFile(abs)
	if err != nil {
		return fmt.Errorf("kustomize: decrypt: %w", err)
	}
	if !bytes.Contains(data, markers[f]) {
		return nil
	}
	out, err := d.decrypt(data, f, f, true)
	if err != nil {
		return fmt.Errorf("kustomize: decrypt: %w", &PathError{Path: rel, Err: err})
	}
	return d.fsys.put(abs, out)
}

// isSOPSEncrypted reports whether an object carries SOPS metadata.
func isSOPSEncrypted(res *resource.Resource) bool {
	f := res.Field("sops")
	return f != nil && f.Value != nil && f.Value.YNode().Kind == kyaml.MappingNode && len(f.Value.YNode().Content) > 0
}

// decryptResource decrypts an object carrying SOPS metadata, and Secret data
// entries holding SOPS documents.
func (d *decryptor) decryptResource(_ context.Context, res *resource.Resource) error {
	if isSOPSEncrypted(res) {
		js, err := res.MarshalJSON()
		if err != nil {
			return err
		}
		out, err := d.decrypt(js, fmtJSON, fmtJSON, false)
		if err != nil {
			return fmt.Errorf("decrypt %s: %w", resRef(res), err)
		}
		if err := res.UnmarshalJSON(out); err != nil {
			return fmt.Errorf("decrypt %s: decoded object: %w", resRef(res), err)
		}
		return nil
	}
	if res.GetKind() != "Secret" {
		return nil
	}
	data := res.GetDataMap()
	changed := false
	for k, v := range data {
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			continue
		}
		in, ok := detectFormat(raw)
		if !ok {
			continue
		}
		out, err := d.decrypt(raw, in, formatForPath(k), false)
		if err != nil {
			return fmt.Errorf("decrypt %s entry %q: %w", resRef(res), k, err)
		}
		data[k] = base64.StdEncoding.EncodeToString(out)
		changed = true
	}
	if changed {
		res.SetDataMap(data)
	}
	return nil
}
