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
	"github.com/getsops/sops/v3/stores"
	"github.com/getsops/sops/v3/stores/dotenv"
	"github.com/getsops/sops/v3/stores/ini"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"sigs.k8s.io/kustomize/api/resource"
	kustypes "sigs.k8s.io/kustomize/api/types"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/internal/yamlguard"
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

// ErrIntegrity reports a SOPS document whose MAC does not verify: it was
// changed by someone without the key (or its MAC is missing).
var ErrIntegrity = errors.New("SOPS integrity check failed (MAC mismatch)")

// ErrDecryptRefused reports SOPS-encrypted input that is not decrypted
// because its plaintext would land outside a Secret: an encrypted object
// that is not a v1 Secret, an encrypted configMapGenerator source, or an
// encrypted patch that is not a Secret patch aimed at Secrets.
var ErrDecryptRefused = errors.New("SOPS decryption refused")

// Decryption configures SOPS decryption (Flux's spec.decryption with
// provider sops).
//
// Every document's MAC is verified as the sops CLI does (ErrIntegrity
// otherwise), and plaintext only ever lands in Secrets: whole objects are
// decrypted only when they are v1 Secrets, encrypted files only as
// secretGenerator sources or as Secret patches aimed at Secrets; anything
// else fails with ErrDecryptRefused. The MAC covers values, not keys, and
// with sops's mac_only_encrypted only the encrypted values: kind is still
// checked, but a Secret's name and namespace are then unauthenticated.
// Transformations the kustomization itself asks for (namespace, prefixes,
// patches) apply to encrypted Secrets as to any object; confine them with
// Options.TargetNamespace and Options.RestrictToTargetNamespace.
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
	// verified holds the stored MACs of the SOPS-encrypted manifests listed
	// in resources whose MAC verified and which hold only v1 Secrets.
	verified map[string]bool
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
	return &decryptor{fsys: fsys, max: max, clients: []keyservice.KeyServiceClient{keyservice.NewCustomLocalClient(srv)}, verified: map[string]bool{}}, nil
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

// load parses a SOPS document. YAML is checked for alias bombs first.
func (d *decryptor) load(data []byte, in sopsFormat) (_ sops.Tree, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("load SOPS document: the parser panicked")
		}
	}()
	if int64(len(data)) > d.max {
		return sops.Tree{}, fmt.Errorf("%w (%d bytes > %d)", ErrDecryptFileTooLarge, len(data), d.max)
	}
	if in == fmtYAML {
		if err := yamlguard.Check(data); err != nil {
			return sops.Tree{}, fmt.Errorf("load SOPS document: %w", err)
		}
	}
	tree, err := storeFor(in).LoadEncryptedFile(data)
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
func (d *decryptor) open(tree *sops.Tree, checkMAC bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("decrypt SOPS document: sops panicked")
		}
	}()
	key, err := tree.Metadata.GetDataKeyWithKeyServices(d.clients, sops.DefaultDecryptionOrder)
	if err != nil {
		return fmt.Errorf("get SOPS data key: %w", err)
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

// emit renders a decrypted tree in format out.
func emit(tree *sops.Tree, out sopsFormat) (_ []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("emit decrypted SOPS document: sops panicked")
		}
	}()
	b, err := storeFor(out).EmitPlainFile(tree.Branches)
	if err != nil {
		return nil, errors.New("emit decrypted SOPS document: the plaintext does not fit the output format")
	}
	return b, nil
}

// decrypt opens a SOPS document, verifying its MAC, and renders it in
// format out.
func (d *decryptor) decrypt(data []byte, in, out sopsFormat) ([]byte, error) {
	tree, err := d.load(data, in)
	if err != nil {
		return nil, err
	}
	if err := d.open(&tree, true); err != nil {
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

// docRef names a decrypted document as Kind/namespace/name for errors
// (unencrypted identifying fields only, never values).
func docRef(b sops.TreeBranch) string {
	kind, _ := branchString(b, "kind")
	ns, _ := branchString(b, "metadata", "namespace")
	name, _ := branchString(b, "metadata", "name")
	return objectRef(kind, ns, name)
}

// requireSecrets refuses a decrypted tree holding anything but v1 Secrets.
func requireSecrets(tree *sops.Tree) error {
	for _, b := range tree.Branches {
		kind, _ := branchString(b, "kind")
		api, _ := branchString(b, "apiVersion")
		if kind != "Secret" || api != "v1" {
			return fmt.Errorf("%w: %s is not a v1 Secret; only Secrets are decrypted", ErrDecryptRefused, docRef(b))
		}
	}
	return nil
}

// optedOut reports whether a document of tree carries the decrypt opt-out
// annotation (readable only when metadata is not encrypted).
func optedOut(tree *sops.Tree) bool {
	for _, b := range tree.Branches {
		if v, _ := branchString(b, "metadata", "annotations", DecryptKey); v == DisabledValue {
			return true
		}
	}
	return false
}

// looksEncrypted reports whether data carries a SOPS marker of any format.
func looksEncrypted(data []byte) bool {
	if _, ok := detectFormat(data); !ok {
		return false
	}
	return bytes.Contains(data, []byte("ENC[")) || !bytes.Contains(data, markers[fmtINI])
}

// sourceRef is one file a kustomization feeds to a generator, a patch or
// its resources.
type sourceRef struct {
	abs    string
	format sopsFormat
	owner  string             // e.g. `configMapGenerator "app" in app/kustomization.yaml`
	target *kustypes.Selector // patches only
}

// sources are the references collected from the kustomizations of a build.
type sources struct {
	secret, configMap, patches, resources []sourceRef
}

// decryptSources decrypts, into the in-memory overlay, the files the
// kustomizations reachable from dir feed to secretGenerator (files, envs)
// and patches, so kustomize reads plain text. It refuses encrypted
// configMapGenerator sources, encrypted patches that are not Secret
// patches aimed at Secrets, and encrypted manifests listed in resources
// that are not v1 Secrets or whose MAC does not verify (those are
// decrypted after the build, once they are known to still be Secrets).
func (d *decryptor) decryptSources(ctx context.Context, dir string) error {
	var src sources
	if err := d.collect(ctx, dir, &src); err != nil {
		return err
	}
	secretFiles := map[string]bool{}
	for _, r := range src.secret {
		secretFiles[r.abs] = true
	}
	// Everything is checked against the files as written, before any
	// plaintext enters the overlay.
	for _, r := range src.configMap {
		data, ok, err := d.read(r.abs, false)
		if err != nil || !ok || !looksEncrypted(data) {
			continue // kustomize reports unreadable files; big ones are never decrypted
		}
		also := ""
		if secretFiles[r.abs] {
			also = " (it is also a secretGenerator source)"
		}
		return fmt.Errorf("kustomize: decrypt: %s: %w: file %q is SOPS-encrypted%s; only secretGenerator sources are decrypted",
			r.owner, ErrDecryptRefused, d.fsys.rel(r.abs), also)
	}
	seen := map[string]bool{}
	for _, r := range src.resources {
		if seen[r.abs] {
			continue
		}
		seen[r.abs] = true
		if err := d.verifyResource(r); err != nil {
			return fmt.Errorf("kustomize: decrypt: %w", &PathError{Path: d.fsys.rel(r.abs), Err: err})
		}
	}
	patched := map[string]bool{}
	for _, r := range src.patches {
		if err := d.decryptPatch(r, patched); err != nil {
			return fmt.Errorf("kustomize: decrypt: %s: %w", r.owner, &PathError{Path: d.fsys.rel(r.abs), Err: err})
		}
	}
	done := map[string]bool{}
	for _, r := range src.secret {
		if done[r.abs] {
			continue
		}
		done[r.abs] = true
		if err := d.decryptFile(r.abs, r.format); err != nil {
			return err
		}
	}
	return nil
}

// collect walks the kustomizations reachable from dir.
func (d *decryptor) collect(ctx context.Context, dir string, src *sources) error {
	visited := map[string]bool{}
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
		if err := yamlguard.Check(raw); err != nil {
			return fmt.Errorf("kustomize: decrypt: %w", &PathError{Path: d.fsys.rel(file), Err: err})
		}
		var kus kustypes.Kustomization
		if err := yaml.Unmarshal(raw, &kus); err != nil {
			return nil
		}
		kfile := d.fsys.rel(file)
		ref := func(p string) (string, error) {
			abs, err := d.fsys.resolve(filepath.Join(dir, filepath.FromSlash(p)))
			if err != nil {
				return "", fmt.Errorf("kustomize: decrypt: %w", err)
			}
			return abs, nil
		}
		genSources := func(kind, name string, args kustypes.GeneratorArgs, into *[]sourceRef) error {
			owner := fmt.Sprintf("%s %q in %s", kind, name, kfile)
			for _, fs := range args.FileSources {
				key, p, found := strings.Cut(fs, "=")
				if !found {
					p = key
				}
				abs, err := ref(p)
				if err != nil {
					return err
				}
				*into = append(*into, sourceRef{abs: abs, format: formatForPath(key), owner: owner})
			}
			for _, env := range args.EnvSources {
				f := formatForPath(env)
				if f == fmtBinary {
					f = fmtDotenv
				}
				abs, err := ref(env)
				if err != nil {
					return err
				}
				*into = append(*into, sourceRef{abs: abs, format: f, owner: owner})
			}
			return nil
		}
		for _, g := range kus.SecretGenerator {
			if err := genSources("secretGenerator", g.Name, g.GeneratorArgs, &src.secret); err != nil {
				return err
			}
		}
		for _, g := range kus.ConfigMapGenerator {
			if err := genSources("configMapGenerator", g.Name, g.GeneratorArgs, &src.configMap); err != nil {
				return err
			}
		}
		for i, p := range kus.Patches {
			if p.Path == "" || strings.Contains(p.Path, "://") {
				continue
			}
			abs, err := ref(p.Path)
			if err != nil {
				return err
			}
			src.patches = append(src.patches, sourceRef{abs: abs, format: formatForPath(p.Path), owner: fmt.Sprintf("patches[%d] in %s", i, kfile), target: p.Target})
		}
		subs := append(append([]string{}, kus.Resources...), kus.Components...)
		for _, r := range subs {
			p := filepath.Join(dir, filepath.FromSlash(r))
			if strings.Contains(r, "://") {
				continue
			}
			abs, err := d.fsys.resolve(p)
			if err != nil {
				if d.fsys.IsDir(p) {
					return fmt.Errorf("kustomize: decrypt: %w", err)
				}
				continue // kustomize reports it
			}
			if !d.fsys.IsDir(p) {
				src.resources = append(src.resources, sourceRef{abs: abs, format: formatForPath(r)})
				continue
			}
			if err := visit(abs); err != nil {
				return err
			}
		}
		return nil
	}
	return visit(dir)
}

// read returns a regular file's bytes, from the overlay when it is there.
// Over the size cap it fails when strict, else it reports false.
func (d *decryptor) read(abs string, strict bool) ([]byte, bool, error) {
	rel := d.fsys.rel(abs)
	if _, ok := d.fsys.overlayFile(abs); !ok {
		fi, err := os.Lstat(abs)
		if err != nil {
			return nil, false, &PathError{Path: rel, Err: unwrapPathErr(err)}
		}
		if !fi.Mode().IsRegular() {
			return nil, false, &PathError{Path: rel, Err: errors.New("not a regular file")}
		}
		if fi.Size() > d.max {
			if !strict {
				return nil, false, nil
			}
			return nil, false, &PathError{Path: rel, Err: fmt.Errorf("%w (%d bytes > %d)", ErrDecryptFileTooLarge, fi.Size(), d.max)}
		}
	}
	data, err := d.fsys.ReadFile(abs)
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

// verifyResource checks an encrypted manifest listed in resources: its MAC
// must verify and it must hold only v1 Secrets. A multi-document file may
// hold documents encrypted separately; each is then checked on its own.
// The plaintext is discarded: the objects are decrypted after the build, so
// kustomize's transformers never see it.
func (d *decryptor) verifyResource(r sourceRef) error {
	data, ok, err := d.read(r.abs, false)
	if err != nil || !ok {
		return nil // kustomize reports unreadable files; big ones stay encrypted
	}
	f := fmtYAML
	if r.format == fmtJSON {
		f = fmtJSON
	}
	if !bytes.Contains(data, markers[f]) {
		return nil
	}
	tree, err := d.load(data, f)
	if errors.Is(err, sops.MetadataNotFound) {
		return nil // plain manifest that merely mentions a SOPS marker
	}
	if err != nil {
		return err
	}
	err = d.verifyTree(&tree)
	if err == nil || len(tree.Branches) < 2 || f != fmtYAML {
		return err
	}
	docs, derr := d.documents(data)
	if derr != nil {
		return err
	}
	for i := range docs {
		if err := d.verifyTree(&docs[i]); err != nil {
			return fmt.Errorf("document %d: %w", i+1, err)
		}
	}
	return nil
}

// documents splits a YAML stream into its SOPS-encrypted documents, each
// with its own metadata.
func (d *decryptor) documents(data []byte) (_ []sops.Tree, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("load SOPS document: the parser panicked")
		}
	}()
	branches, err := sopsyaml.NewStore(&config.YAMLStoreConfig{}).LoadPlainFile(data)
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
// holds only v1 Secrets (or opts out of decryption).
func (d *decryptor) verifyTree(tree *sops.Tree) error {
	if optedOut(tree) {
		return nil
	}
	if err := d.open(tree, true); err != nil {
		return err
	}
	if err := requireSecrets(tree); err != nil {
		return err
	}
	d.verified[tree.Metadata.MessageAuthenticationCode] = true
	return nil
}

// decryptPatch decrypts an encrypted patch file into the overlay: it must
// verify and hold only v1 Secrets, and every reference to it must target
// Secrets only. encrypted records, per file, whether it was encrypted.
func (d *decryptor) decryptPatch(r sourceRef, encrypted map[string]bool) error {
	enc, seen := encrypted[r.abs]
	var data []byte
	if !seen {
		var err error
		if data, _, err = d.read(r.abs, true); err != nil {
			return err
		}
		enc = bytes.Contains(data, markers[r.format])
		encrypted[r.abs] = enc
	}
	if !enc {
		return nil
	}
	if t := r.target; t != nil && (t.Kind != "Secret" || t.Group != "" || (t.Version != "" && t.Version != "v1")) {
		return fmt.Errorf("%w: an encrypted patch may only target kind Secret (group \"\", version v1)", ErrDecryptRefused)
	}
	if seen {
		return nil // decrypted already
	}
	tree, err := d.load(data, r.format)
	if err != nil {
		return err
	}
	if err := d.open(&tree, true); err != nil {
		return err
	}
	if err := requireSecrets(&tree); err != nil {
		return err
	}
	out, err := emit(&tree, r.format)
	if err != nil {
		return err
	}
	return d.fsys.put(r.abs, out)
}

func (d *decryptor) decryptFile(abs string, f sopsFormat) error {
	data, _, err := d.read(abs, true)
	if err != nil {
		return fmt.Errorf("kustomize: decrypt: %w", err)
	}
	if !bytes.Contains(data, markers[f]) {
		return nil
	}
	out, err := d.decrypt(data, f, f)
	if err != nil {
		return fmt.Errorf("kustomize: decrypt: %w", &PathError{Path: d.fsys.rel(abs), Err: err})
	}
	return d.fsys.put(abs, out)
}

// isSOPSEncrypted reports whether an object carries SOPS metadata.
func isSOPSEncrypted(res *resource.Resource) bool {
	f := res.Field("sops")
	return f != nil && f.Value != nil && f.Value.YNode().Kind == kyaml.MappingNode && len(f.Value.YNode().Content) > 0
}

// decryptResource decrypts an object carrying SOPS metadata, and Secret data
// entries holding SOPS documents. Whole objects are decrypted only when they
// are v1 Secrets; their MAC must verify, unless they come from a manifest
// listed in resources whose MAC verified before the build (kustomize's
// transformers may have changed unencrypted fields since, which the MAC
// covers).
func (d *decryptor) decryptResource(_ context.Context, res *resource.Resource) error {
	if isSOPSEncrypted(res) {
		if res.GetKind() != "Secret" || res.GetApiVersion() != "v1" {
			return fmt.Errorf("decrypt %s: %w: a SOPS-encrypted object must be a v1 Secret", resRef(res), ErrDecryptRefused)
		}
		js, err := res.MarshalJSON()
		if err != nil {
			return err
		}
		tree, err := d.load(js, fmtJSON)
		if err != nil {
			return fmt.Errorf("decrypt %s: %w", resRef(res), err)
		}
		if err := d.open(&tree, !d.verified[tree.Metadata.MessageAuthenticationCode]); err != nil {
			return fmt.Errorf("decrypt %s: %w", resRef(res), err)
		}
		if err := requireSecrets(&tree); err != nil {
			return fmt.Errorf("decrypt %s: %w", resRef(res), err)
		}
		out, err := emit(&tree, fmtJSON)
		if err != nil {
			return fmt.Errorf("decrypt %s: %w", resRef(res), err)
		}
		if err := res.UnmarshalJSON(out); err != nil {
			return fmt.Errorf("decrypt %s: decoded object is invalid", resRef(res))
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
		out, err := d.decrypt(raw, in, formatForPath(k))
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
