package sopsdecrypt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/ProtonMail/go-crypto/openpgp"
	pgparmor "github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/stores"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/internal/sopsmark"
	"github.com/gitopskit/gitopskit/internal/yamlguard"
	"github.com/gitopskit/gitopskit/kustomize"
)

// DefaultMaxFileSize caps the size of one encrypted file or object when
// Decryptor.MaxFileSize is zero.
const DefaultMaxFileSize = 5 << 20

// ErrKeyNotSupported is returned by a KeyService that does not handle a
// master key, so the next one is tried.
var ErrKeyNotSupported = errors.New("key service does not handle this master key")

// ErrFileTooLarge reports an encrypted file or object over the size cap.
var ErrFileTooLarge = errors.New("encrypted file exceeds the size limit")

// ErrIntegrity reports a SOPS document whose MAC does not verify: it was
// changed by someone without the key (or its MAC is missing).
var ErrIntegrity = errors.New("SOPS integrity check failed (MAC mismatch)")

// ErrNoMatchingKey reports a SOPS document whose data key none of the
// configured key sources could decrypt. The error text lists, for each
// master key of the document, the key sources that were tried.
var ErrNoMatchingKey = errors.New("no configured key source matched any master key of the document")

// Decryptor configures SOPS decryption (Flux's spec.decryption with
// provider sops) and implements kustomize.Decryptor. The zero value
// decrypts nothing (no keys) but still verifies and refuses as described
// below. A Decryptor may be shared by concurrent builds; each build loads
// the keys anew.
//
// Every document's MAC is verified as the sops CLI does (ErrIntegrity
// otherwise), and plaintext only ever lands in Secrets: whole objects are
// decrypted only when they are v1 Secrets, encrypted files only as
// secretGenerator sources or as Secret patches aimed at Secrets; anything
// else fails with kustomize.ErrDecryptRefused. The MAC covers values, not
// keys, and with sops's mac_only_encrypted only the encrypted values: kind
// is still checked, but a Secret's name and namespace are then
// unauthenticated. Transformations the kustomization itself asks for
// (namespace, prefixes, patches) apply to encrypted Secrets as to any
// object; confine them with kustomize.Options.TargetNamespace and
// RestrictToTargetNamespace.
type Decryptor struct {
	// Keys supplies age identities and OpenPGP private keys. Nil means no
	// local keys (only KeyServices are asked).
	Keys KeySource
	// KeyServices are asked, in order, for master keys the local keys cannot
	// open (KMS, Vault and the like).
	KeyServices []KeyService
	// MaxFileSize caps each encrypted file or object; zero means
	// DefaultMaxFileSize.
	MaxFileSize int64
}

var _ kustomize.Decryptor = (*Decryptor)(nil)

// KeySource supplies the private keys used for decryption.
type KeySource interface {
	LoadKeys(ctx context.Context) (*Keys, error)
}

// Keys holds private keys in memory. It is a KeySource returning itself.
type Keys struct {
	// Age holds age identities (X25519 or plugin identities).
	Age []age.Identity
	// PGP holds OpenPGP private keys, unlocked.
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

// String returns "<type> <id>".
func (k MasterKey) String() string { return k.Type + " " + k.ID }

// KeyService decrypts SOPS data keys with master keys it controls (a KMS, a
// Vault transit engine, ...). It returns ErrKeyNotSupported for keys it
// does not handle.
type KeyService interface {
	DecryptDataKey(ctx context.Context, key MasterKey, encryptedKey []byte) ([]byte, error)
}

// NewSession implements kustomize.Decryptor: it loads the keys for one
// build.
func (d *Decryptor) NewSession(ctx context.Context) (kustomize.DecryptSession, error) {
	return d.newSession(ctx)
}

func (d *Decryptor) newSession(ctx context.Context) (*session, error) {
	srv := &keyServer{ctx: ctx, services: d.KeyServices}
	if d.Keys != nil {
		k, err := d.Keys.LoadKeys(ctx)
		if err != nil {
			return nil, fmt.Errorf("load decryption keys: %w", err)
		}
		srv.keys = k
	}
	max := d.MaxFileSize
	if max <= 0 {
		max = DefaultMaxFileSize
	}
	return &session{max: max, srv: srv, clients: []keyservice.KeyServiceClient{keyservice.NewCustomLocalClient(srv)}, verified: map[string]bool{}}, nil
}

// keyServer is an in-process SOPS key service answering decryption requests
// with the in-memory keys and the plugged-in key services. It records what
// it tried, so that a failure can say so.
type keyServer struct {
	keyservice.UnimplementedKeyServiceServer
	ctx      context.Context
	keys     *Keys
	services []KeyService

	mu       sync.Mutex
	attempts []string // one per master key asked for since the last reset
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

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Decrypt implements keyservice.KeyServiceServer.
func (s *keyServer) Decrypt(_ context.Context, req *keyservice.DecryptRequest) (*keyservice.DecryptResponse, error) {
	mk := masterKeyOf(req.GetKey())
	var tried []string
	defer func() {
		s.mu.Lock()
		if len(tried) == 0 {
			tried = []string{"no key source for this key type is configured"}
		}
		s.attempts = append(s.attempts, fmt.Sprintf("%s (%s)", mk, strings.Join(tried, "; ")))
		s.mu.Unlock()
	}()
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
			tried = append(tried, plural(len(s.keys.Age), "age identity", "age identities")+": none matched")
		}
	case "pgp":
		if s.keys != nil && len(s.keys.PGP) > 0 {
			out, err := decryptPGP(req.GetCiphertext(), s.keys.PGP)
			if err == nil {
				return &keyservice.DecryptResponse{Plaintext: out}, nil
			}
			local = fmt.Errorf("pgp key %s: %w", mk.ID, err)
			tried = append(tried, plural(len(s.keys.PGP), "OpenPGP key", "OpenPGP keys")+": "+err.Error())
		}
	}
	for i, ks := range s.services {
		out, err := ks.DecryptDataKey(s.ctx, mk, req.GetCiphertext())
		if err == nil {
			return &keyservice.DecryptResponse{Plaintext: out}, nil
		}
		if !errors.Is(err, ErrKeyNotSupported) {
			tried = append(tried, fmt.Sprintf("key service %d: %v", i+1, err))
			return nil, fmt.Errorf("%s key %s: %w", mk.Type, mk.ID, err)
		}
		tried = append(tried, fmt.Sprintf("key service %d: does not handle %s keys", i+1, mk.Type))
	}
	if local != nil {
		return nil, local
	}
	return nil, fmt.Errorf("no key available for %s key %s", mk.Type, mk.ID)
}

// reset forgets the recorded attempts.
func (s *keyServer) reset() {
	s.mu.Lock()
	s.attempts = nil
	s.mu.Unlock()
}

// tried returns the recorded attempts.
func (s *keyServer) tried() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.attempts...)
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

// session decrypts SOPS files and objects for one build.
type session struct {
	max     int64
	srv     *keyServer
	clients []keyservice.KeyServiceClient
	// verified holds the stored MACs of the SOPS-encrypted manifests
	// VerifyManifest accepted: their MAC verified and they hold only v1
	// Secrets.
	verified map[string]bool
}

var _ kustomize.DecryptSession = (*session)(nil)

// inputFormat is the format to parse data in: format when data carries
// SOPS metadata in it, else the format the metadata is in.
func inputFormat(data []byte, format string) string {
	if sopsmark.Is(data, format) {
		return format
	}
	if f, ok := sopsmark.Detect(data); ok {
		return f
	}
	return format
}

// load parses a SOPS document. YAML is checked for alias bombs first.
func (s *session) load(data []byte, in string) (_ sops.Tree, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("load SOPS document: the parser panicked")
		}
	}()
	if int64(len(data)) > s.max {
		return sops.Tree{}, fmt.Errorf("%w (%d bytes > %d)", ErrFileTooLarge, len(data), s.max)
	}
	if in == sopsmark.YAML {
		if err := yamlguard.Check(data); err != nil {
			return sops.Tree{}, fmt.Errorf("load SOPS document: %w", err)
		}
	}
	tree, err := loadEncrypted(data, in)
	if err != nil {
		return sops.Tree{}, fmt.Errorf("load SOPS document: %w", err)
	}
	return tree, nil
}

// open decrypts tree in place. With checkMAC, the MAC computed over the
// decrypted values must equal the document's stored MAC, as the sops CLI
// requires; without it, each encrypted value is still authenticated (with
// its path) but unencrypted values are not. Errors never carry decrypted
// values.
func (s *session) open(tree *sops.Tree, checkMAC bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("decrypt SOPS document: sops panicked")
		}
	}()
	s.srv.reset()
	key, err := tree.Metadata.GetDataKeyWithKeyServices(s.clients, sops.DefaultDecryptionOrder)
	if err != nil {
		return s.keyError(tree, err)
	}
	cipher := aes.NewCipher()
	mac, err := tree.Decrypt(key, cipher)
	if err != nil {
		return errors.New("decrypt SOPS document: a value could not be decrypted")
	}
	if checkMAC {
		stored, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, key, tree.Metadata.LastModified.Format(time.RFC3339))
		if err != nil || stored == "" || stored != mac {
			return ErrIntegrity
		}
	}
	return nil
}

// keyError explains why no data key was recovered: the master keys of the
// document and the key sources tried for each, rather than sops's count of
// key groups.
func (s *session) keyError(tree *sops.Tree, err error) error {
	if tried := s.srv.tried(); len(tried) > 0 {
		return fmt.Errorf("%w: tried %s", ErrNoMatchingKey, strings.Join(tried, ", "))
	}
	n := 0
	for _, g := range tree.Metadata.KeyGroups {
		n += len(g)
	}
	if n == 0 {
		return fmt.Errorf("%w: the document lists no master keys", ErrNoMatchingKey)
	}
	return fmt.Errorf("get SOPS data key: %w", err)
}

// emit renders a decrypted tree in format out.
func emit(tree *sops.Tree, out string) (_ []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("emit decrypted SOPS document: the writer panicked")
		}
	}()
	b, err := emitPlain(tree.Branches, out)
	if err != nil {
		return nil, errors.New("emit decrypted SOPS document: the plaintext does not fit the output format")
	}
	return b, nil
}

// decrypt opens a SOPS document, verifying its MAC, and renders it in
// format out.
func (s *session) decrypt(data []byte, in, out string) ([]byte, error) {
	tree, err := s.load(data, in)
	if err != nil {
		return nil, err
	}
	if err := s.open(&tree, true); err != nil {
		return nil, err
	}
	return emit(&tree, out)
}

// branchString returns the string at path in a document, and whether it
// is one.
func branchString(b sops.TreeBranch, path ...string) (string, bool) {
	var v any = b
	for _, k := range path {
		br, ok := v.(sops.TreeBranch)
		if !ok {
			return "", false
		}
		v = nil
		for _, item := range br {
			if key, ok := item.Key.(string); ok && key == k {
				v = item.Value
				break
			}
		}
	}
	s, ok := v.(string)
	return s, ok
}

// identifying returns a document's identifying field for messages;
// encrypted values are not shown.
func identifying(b sops.TreeBranch, path ...string) string {
	s, _ := branchString(b, path...)
	if strings.HasPrefix(s, "ENC[") {
		return "(encrypted)"
	}
	return s
}

// docRef names a document as Kind/namespace/name for errors (identifying
// fields only, never values).
func docRef(b sops.TreeBranch) string {
	kind := identifying(b, "kind")
	ns := identifying(b, "metadata", "namespace")
	name := identifying(b, "metadata", "name")
	if ns == "" {
		return kind + "/" + name
	}
	return kind + "/" + ns + "/" + name
}

// requireSecrets refuses a decrypted tree holding anything but v1 Secrets.
func requireSecrets(tree *sops.Tree) error {
	for _, b := range tree.Branches {
		kind, _ := branchString(b, "kind")
		api, _ := branchString(b, "apiVersion")
		if kind != "Secret" || api != "v1" {
			return fmt.Errorf("%w: %s is not a v1 Secret; only Secrets are decrypted", kustomize.ErrDecryptRefused, docRef(b))
		}
	}
	return nil
}

// optedOut reports whether a document of tree carries the decrypt opt-out
// annotation (readable only when metadata is not encrypted).
func optedOut(tree *sops.Tree) bool {
	for _, b := range tree.Branches {
		if v, _ := branchString(b, "metadata", "annotations", kustomize.DecryptKey); v == kustomize.DisabledValue {
			return true
		}
	}
	return false
}

// VerifyManifest implements kustomize.DecryptSession. A multi-document
// file may hold documents encrypted separately; each is then checked on
// its own. A manifest over the size cap is left for DecryptObject, which
// refuses it unless its object opts out.
func (s *session) VerifyManifest(_ context.Context, f kustomize.EncryptedFile) error {
	if int64(len(f.Data)) > s.max {
		return nil
	}
	in := sopsmark.YAML
	if f.Format == sopsmark.JSON {
		in = sopsmark.JSON
	}
	tree, err := s.load(f.Data, in)
	if errors.Is(err, sops.MetadataNotFound) {
		return nil // plain manifest that merely looks encrypted
	}
	if err != nil {
		return err
	}
	err = s.verifyTree(&tree)
	if err == nil || len(tree.Branches) < 2 || in != sopsmark.YAML {
		return err
	}
	docs, derr := s.documents(f.Data)
	if derr != nil {
		return err
	}
	for i := range docs {
		if err := s.verifyTree(&docs[i]); err != nil {
			return fmt.Errorf("document %d: %w", i+1, err)
		}
	}
	return nil
}

// documents splits a YAML stream into its SOPS-encrypted documents, each
// with its own metadata.
func (s *session) documents(data []byte) (_ []sops.Tree, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("load SOPS document: the parser panicked")
		}
	}()
	branches, err := loadYAML(data)
	if err != nil {
		return nil, err
	}
	var out []sops.Tree
	for _, b := range branches {
		bs, md, err := stores.ExtractMetadata(sops.TreeBranches{b}, stores.MetadataOpts{Flatten: stores.MetadataFlattenNone})
		if errors.Is(err, sops.MetadataNotFound) {
			continue // a plain document
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sops.Tree{Branches: bs, Metadata: md})
	}
	return out, nil
}

// verifyTree opens tree with its MAC checked and records the MAC when it
// holds only v1 Secrets (or opts out of decryption). Errors name the
// document.
func (s *session) verifyTree(tree *sops.Tree) error {
	if optedOut(tree) {
		return nil
	}
	ref := ""
	if len(tree.Branches) == 1 {
		ref = docRef(tree.Branches[0]) + ": "
	}
	if err := s.open(tree, true); err != nil {
		if ref != "" {
			return fmt.Errorf("%s%w", ref, err)
		}
		return err
	}
	if err := requireSecrets(tree); err != nil {
		return err
	}
	s.verified[tree.Metadata.MessageAuthenticationCode] = true
	return nil
}

// DecryptSecretPatch implements kustomize.DecryptSession.
func (s *session) DecryptSecretPatch(_ context.Context, f kustomize.EncryptedFile) ([]byte, error) {
	tree, err := s.load(f.Data, inputFormat(f.Data, f.Format))
	if err != nil {
		return nil, err
	}
	if err := s.open(&tree, true); err != nil {
		return nil, err
	}
	if err := requireSecrets(&tree); err != nil {
		return nil, err
	}
	return emit(&tree, f.Format)
}

// DecryptSecretSource implements kustomize.DecryptSession.
func (s *session) DecryptSecretSource(_ context.Context, f kustomize.EncryptedFile) ([]byte, error) {
	return s.decrypt(f.Data, inputFormat(f.Data, f.Format), f.Format)
}

// encrypted reports whether an object carries SOPS metadata.
func encrypted(obj map[string]any) bool {
	m, ok := obj["sops"].(map[string]any)
	return ok && len(m) > 0
}

// DecryptObject implements kustomize.DecryptSession. Whole objects are
// decrypted only when they are v1 Secrets; their MAC must verify, unless
// they come from a manifest VerifyManifest accepted (kustomize's
// transformers may have changed unencrypted fields since, which the MAC
// covers).
func (s *session) DecryptObject(_ context.Context, obj *unstructured.Unstructured) error {
	if encrypted(obj.Object) {
		if obj.GetKind() != "Secret" || obj.GetAPIVersion() != "v1" {
			return fmt.Errorf("%w: a SOPS-encrypted object must be a v1 Secret", kustomize.ErrDecryptRefused)
		}
		js, err := json.Marshal(obj.Object)
		if err != nil {
			return errors.New("the object does not encode as JSON")
		}
		tree, err := s.load(js, sopsmark.JSON)
		if err != nil {
			return err
		}
		if err := s.open(&tree, !s.verified[tree.Metadata.MessageAuthenticationCode]); err != nil {
			return err
		}
		if err := requireSecrets(&tree); err != nil {
			return err
		}
		out, err := emit(&tree, sopsmark.JSON)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return errors.New("decoded object is invalid")
		}
		obj.Object = m
		return nil
	}
	if obj.GetKind() != "Secret" {
		return nil
	}
	data, _ := obj.Object["data"].(map[string]any)
	for k, v := range data {
		str, ok := v.(string)
		if !ok {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(str)
		if err != nil {
			continue
		}
		in, ok := sopsmark.Detect(raw)
		if !ok {
			continue
		}
		out, err := s.decrypt(raw, in, sopsmark.FormatForPath(k))
		if err != nil {
			return fmt.Errorf("entry %q: %w", k, err)
		}
		data[k] = base64.StdEncoding.EncodeToString(out)
	}
	return nil
}
