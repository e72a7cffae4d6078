package kustomize

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/resource"
	kustypes "sigs.k8s.io/kustomize/api/types"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/internal/sopsmark"
	"github.com/gitopskit/gitopskit/internal/yamlguard"
)

// ErrStillEncrypted reports SOPS-encrypted input that would reach the
// output undecrypted: an object that still carries SOPS metadata after the
// build, or an encrypted generator source, when no Decryptor is configured
// or the object's key was not available.
var ErrStillEncrypted = errors.New("object is still SOPS-encrypted")

// ErrDecryptRefused reports SOPS-encrypted input that is not decrypted
// because its plaintext would land outside a Secret: an encrypted object
// that is not a v1 Secret, an encrypted configMapGenerator source, or an
// encrypted patch that is not a Secret patch aimed at Secrets.
var ErrDecryptRefused = errors.New("SOPS decryption refused")

// Decryptor decrypts the SOPS-encrypted inputs of builds (Flux's
// spec.decryption); set it in Options.Decryptor. The kustomize/sopsdecrypt
// package implements it with the SOPS library; this package only detects
// SOPS metadata and never links SOPS itself.
//
// Build keeps plaintext inside Secrets whatever the implementation does:
// it refuses encrypted configMapGenerator sources and encrypted patches
// aimed at anything but Secrets before decrypting, and an object that is
// not a v1 Secret after DecryptObject. What Build cannot see, because it
// is encrypted, the implementation checks (see DecryptSession).
type Decryptor interface {
	// NewSession starts the decryption of one build (loading its keys,
	// say). Build calls it at the start of each build, before reading any
	// encrypted input (again if the build restarts exclusively, see the
	// package documentation), and calls the session from one goroutine at a
	// time.
	NewSession(ctx context.Context) (DecryptSession, error)
}

// DecryptSession decrypts the SOPS-encrypted inputs of one build. Build
// calls VerifyManifest, DecryptSecretPatch and DecryptSecretSource before
// kustomize runs, in that order, then DecryptObject on the built objects.
// Errors must never carry plaintext.
type DecryptSession interface {
	// VerifyManifest checks an encrypted manifest listed in resources (f.Format
	// "yaml" or "json") before the build: its MAC must verify and it must
	// hold only v1 Secrets (else the error wraps ErrDecryptRefused). Documents
	// that opt out (DecryptKey annotation) are skipped. The plaintext is
	// discarded: kustomize transforms the still-encrypted objects, and
	// DecryptObject decrypts them afterwards without re-checking the MAC over
	// the fields kustomize may have changed.
	VerifyManifest(ctx context.Context, f EncryptedFile) error
	// DecryptSecretPatch returns the plaintext, in f.Format, of an encrypted
	// patch file whose every use targets Secrets; its MAC must verify and it
	// must hold only v1 Secrets (else the error wraps ErrDecryptRefused).
	DecryptSecretPatch(ctx context.Context, f EncryptedFile) ([]byte, error)
	// DecryptSecretSource returns the plaintext, in f.Format, of an encrypted
	// secretGenerator source (a files or envs entry); its MAC must verify.
	DecryptSecretSource(ctx context.Context, f EncryptedFile) ([]byte, error)
	// DecryptObject decrypts obj in place: an object carrying SOPS metadata
	// (only a v1 Secret, else the error wraps ErrDecryptRefused; its MAC must
	// verify unless VerifyManifest accepted its manifest), and the SOPS
	// documents held in a Secret's data entries.
	DecryptObject(ctx context.Context, obj *unstructured.Unstructured) error
}

// EncryptedFile is a SOPS-encrypted file of the tree a build reads.
type EncryptedFile struct {
	// Path is the file's path relative to the build root, slash-separated,
	// for messages.
	Path string
	// Data is the file's content.
	Data []byte
	// Format is the format the build reads the file in, named as sops's
	// --input-type flag names it: "yaml", "json", "dotenv", "ini" or
	// "binary". Plaintext is returned in this format.
	Format string
}

// sourceRef is one file a kustomization feeds to a generator, a patch or
// its resources.
type sourceRef struct {
	abs    string
	format string
	owner  string             // e.g. `configMapGenerator "app" in app/kustomization.yaml`
	target *kustypes.Selector // patches only
}

// sources are the references collected from the kustomizations of a build.
type sources struct {
	secret, configMap, patches, resources []sourceRef
}

// generatorFile is one file a generator reads and the format it is read in.
type generatorFile struct {
	path, format string
}

// generatorFiles lists the files of a generator's files and envs entries
// (the deprecated env entry included).
func generatorFiles(args kustypes.GeneratorArgs) []generatorFile {
	var out []generatorFile
	for _, fs := range args.FileSources {
		key, p, found := strings.Cut(fs, "=")
		if !found {
			p = key
		}
		out = append(out, generatorFile{path: p, format: sopsmark.FormatForPath(key)})
	}
	envs := args.EnvSources
	if args.EnvSource != "" {
		envs = append(append([]string{}, envs...), args.EnvSource)
	}
	for _, env := range envs {
		f := sopsmark.FormatForPath(env)
		if f == sopsmark.Binary {
			f = sopsmark.Dotenv
		}
		out = append(out, generatorFile{path: env, format: f})
	}
	return out
}

// decryption runs a DecryptSession over one build's tree.
type decryption struct {
	fsys    *confinedFS
	session DecryptSession
}

func newDecryption(ctx context.Context, fsys *confinedFS, d Decryptor) (*decryption, error) {
	s, err := d.NewSession(ctx)
	if err != nil {
		return nil, fmt.Errorf("kustomize: decrypt: %w", err)
	}
	if s == nil {
		return nil, errors.New("kustomize: decrypt: the Decryptor returned no session")
	}
	return &decryption{fsys: fsys, session: s}, nil
}

// decryptSources decrypts, into the in-memory overlay, the files the
// kustomizations reachable from dir feed to secretGenerator (files, envs)
// and patches, so kustomize reads plain text. It refuses encrypted
// configMapGenerator sources and encrypted patches that are not aimed at
// Secrets, and has the session verify encrypted manifests listed in
// resources (those are decrypted after the build, once they are known to
// still be Secrets).
func (d *decryption) decryptSources(ctx context.Context, dir string) error {
	var src sources
	if err := collect(ctx, d.fsys, dir, &src); err != nil {
		return err
	}
	secretFiles := map[string]bool{}
	for _, r := range src.secret {
		secretFiles[r.abs] = true
	}
	// Everything is checked against the files as written, before any
	// plaintext enters the overlay.
	for _, r := range src.configMap {
		data, err := readInput(d.fsys, r.abs)
		if err != nil {
			continue // kustomize reports unreadable files
		}
		if _, enc := sopsmark.Detect(data); !enc {
			continue
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
		if err := d.verifyResource(ctx, r); err != nil {
			return fmt.Errorf("kustomize: decrypt: %w", &PathError{Path: d.fsys.rel(r.abs), Err: err})
		}
	}
	patched := map[string]bool{}
	for _, r := range src.patches {
		if err := d.decryptPatch(ctx, r, patched); err != nil {
			return fmt.Errorf("kustomize: decrypt: %s: %w", r.owner, &PathError{Path: d.fsys.rel(r.abs), Err: err})
		}
	}
	done := map[string]bool{}
	for _, r := range src.secret {
		if done[r.abs] {
			continue
		}
		done[r.abs] = true
		if err := d.decryptFile(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// collect walks the kustomizations reachable from dir.
func collect(ctx context.Context, fsys *confinedFS, dir string, src *sources) error {
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
		file, err := kustomizationFile(fsys, dir)
		if err != nil || file == "" {
			return nil // not a kustomization directory; kustomize reports it
		}
		raw, err := fsys.ReadFile(file)
		if err != nil {
			return err
		}
		if err := yamlguard.Check(raw); err != nil {
			return fmt.Errorf("kustomize: decrypt: %w", &PathError{Path: fsys.rel(file), Err: err})
		}
		var kus kustypes.Kustomization
		if err := yaml.Unmarshal(raw, &kus); err != nil {
			return nil
		}
		kfile := fsys.rel(file)
		ref := func(p string) (string, error) {
			abs, err := fsys.resolve(filepath.Join(dir, filepath.FromSlash(p)))
			if err != nil {
				return "", fmt.Errorf("kustomize: decrypt: %w", err)
			}
			return abs, nil
		}
		genSources := func(kind, name string, args kustypes.GeneratorArgs, into *[]sourceRef) error {
			owner := fmt.Sprintf("%s %q in %s", kind, name, kfile)
			for _, g := range generatorFiles(args) {
				abs, err := ref(g.path)
				if err != nil {
					return err
				}
				*into = append(*into, sourceRef{abs: abs, format: g.format, owner: owner})
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
			src.patches = append(src.patches, sourceRef{abs: abs, format: sopsmark.FormatForPath(p.Path), owner: fmt.Sprintf("patches[%d] in %s", i, kfile), target: p.Target})
		}
		subs := append(append([]string{}, kus.Resources...), kus.Components...)
		for _, r := range subs {
			p := filepath.Join(dir, filepath.FromSlash(r))
			if strings.Contains(r, "://") {
				continue
			}
			abs, err := fsys.resolve(p)
			if err != nil {
				if fsys.IsDir(p) {
					return fmt.Errorf("kustomize: decrypt: %w", err)
				}
				continue // kustomize reports it
			}
			if !fsys.IsDir(p) {
				src.resources = append(src.resources, sourceRef{abs: abs, format: sopsmark.FormatForPath(r)})
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

// readInput returns a regular file's bytes, from the overlay when it is
// there. Anything but a regular file (a FIFO, a device) is refused before
// it is opened.
func readInput(fsys *confinedFS, abs string) ([]byte, error) {
	if _, ok := fsys.overlayFile(abs); !ok {
		fi, err := os.Lstat(abs)
		if err != nil {
			return nil, &PathError{Path: fsys.rel(abs), Err: unwrapPathErr(err)}
		}
		if !fi.Mode().IsRegular() {
			return nil, &PathError{Path: fsys.rel(abs), Err: errors.New("not a regular file")}
		}
	}
	return fsys.ReadFile(abs)
}

// verifyResource has the session check an encrypted manifest listed in
// resources.
func (d *decryption) verifyResource(ctx context.Context, r sourceRef) error {
	data, err := readInput(d.fsys, r.abs)
	if err != nil {
		return nil // kustomize reports unreadable files
	}
	f := sopsmark.YAML
	if r.format == sopsmark.JSON {
		f = sopsmark.JSON
	}
	if !sopsmark.Is(data, f) {
		return nil
	}
	return d.session.VerifyManifest(ctx, EncryptedFile{Path: d.fsys.rel(r.abs), Data: data, Format: f})
}

// decryptPatch decrypts an encrypted patch file into the overlay: every
// reference to it must target Secrets only. encrypted records, per file,
// whether it was encrypted.
func (d *decryption) decryptPatch(ctx context.Context, r sourceRef, encrypted map[string]bool) error {
	enc, seen := encrypted[r.abs]
	var data []byte
	if !seen {
		var err error
		if data, err = readInput(d.fsys, r.abs); err != nil {
			return err
		}
		enc = sopsmark.Is(data, r.format)
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
	out, err := d.session.DecryptSecretPatch(ctx, EncryptedFile{Path: d.fsys.rel(r.abs), Data: data, Format: r.format})
	if err != nil {
		return err
	}
	return d.fsys.put(r.abs, out)
}

// decryptFile decrypts a secretGenerator source into the overlay.
func (d *decryption) decryptFile(ctx context.Context, r sourceRef) error {
	data, err := readInput(d.fsys, r.abs)
	if err != nil {
		return fmt.Errorf("kustomize: decrypt: %w", err)
	}
	if _, enc := sopsmark.Detect(data); !enc {
		return nil
	}
	out, err := d.session.DecryptSecretSource(ctx, EncryptedFile{Path: d.fsys.rel(r.abs), Data: data, Format: r.format})
	if err != nil {
		return fmt.Errorf("kustomize: decrypt: %s: %w", r.owner, &PathError{Path: d.fsys.rel(r.abs), Err: err})
	}
	return d.fsys.put(r.abs, out)
}

// isSOPSEncrypted reports whether an object carries SOPS metadata.
func isSOPSEncrypted(res *resource.Resource) bool {
	f := res.Field("sops")
	return f != nil && f.Value != nil && f.Value.YNode().Kind == kyaml.MappingNode && len(f.Value.YNode().Content) > 0
}

// holdsSOPSEntry reports whether a Secret's data entries hold a SOPS
// document.
func holdsSOPSEntry(res *resource.Resource) bool {
	if res.GetKind() != "Secret" {
		return false
	}
	for _, v := range res.GetDataMap() {
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			continue
		}
		if _, ok := sopsmark.Detect(raw); ok {
			return true
		}
	}
	return false
}

func isV1Secret(kind, apiVersion string) bool { return kind == "Secret" && apiVersion == "v1" }

// decryptResource decrypts an object carrying SOPS metadata, which must be
// a v1 Secret before and after, and Secret data entries holding SOPS
// documents.
func (d *decryption) decryptResource(ctx context.Context, res *resource.Resource) error {
	whole := isSOPSEncrypted(res)
	if !whole && !holdsSOPSEntry(res) {
		return nil
	}
	if whole && !isV1Secret(res.GetKind(), res.GetApiVersion()) {
		return fmt.Errorf("decrypt %s: %w: a SOPS-encrypted object must be a v1 Secret", resRef(res), ErrDecryptRefused)
	}
	m, err := res.Map()
	if err != nil {
		return fmt.Errorf("decrypt %s: %w", resRef(res), err)
	}
	obj := &unstructured.Unstructured{Object: m}
	if err := d.session.DecryptObject(ctx, obj); err != nil {
		return fmt.Errorf("decrypt %s: %w", resRef(res), err)
	}
	if !isV1Secret(obj.GetKind(), obj.GetAPIVersion()) {
		return fmt.Errorf("decrypt %s: %w: decrypted to a %s %s, not a v1 Secret", resRef(res), ErrDecryptRefused, obj.GetAPIVersion(), obj.GetKind())
	}
	js, err := json.Marshal(obj.Object)
	if err != nil {
		return fmt.Errorf("decrypt %s: decoded object is invalid", resRef(res))
	}
	if err := res.UnmarshalJSON(js); err != nil {
		return fmt.Errorf("decrypt %s: decoded object is invalid", resRef(res))
	}
	return nil
}

// encryptedSourceGuard returns the check that refuses, when no Decryptor
// is configured, an encrypted file read as a generator source: kustomize
// would put its ciphertext into a Secret or a ConfigMap. Generators whose
// objects carry the DecryptKey opt-out annotation are passed through. It
// learns the sources from the kustomization files as kustomize reads them,
// which is always before the sources.
func encryptedSourceGuard(fsys *confinedFS) readHook {
	var mu sync.Mutex
	owners := map[string]string{} // resolved source path → owning generator
	return func(abs string, data []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if isKustomizationName(filepath.Base(abs)) {
			var kus struct {
				SecretGenerator    []kustypes.SecretArgs      `json:"secretGenerator,omitempty"`
				ConfigMapGenerator []kustypes.ConfigMapArgs   `json:"configMapGenerator,omitempty"`
				GeneratorOptions   *kustypes.GeneratorOptions `json:"generatorOptions,omitempty"`
			}
			if yaml.Unmarshal(data, &kus) != nil {
				return nil // kustomize reports it
			}
			optedOut := func(o *kustypes.GeneratorOptions) bool {
				return o != nil && o.Annotations[DecryptKey] == DisabledValue
			}
			if optedOut(kus.GeneratorOptions) {
				return nil
			}
			dir, kfile := filepath.Dir(abs), fsys.rel(abs)
			add := func(kind, name string, args kustypes.GeneratorArgs) {
				if optedOut(args.Options) {
					return
				}
				for _, g := range generatorFiles(args) {
					if r, err := fsys.resolve(filepath.Join(dir, filepath.FromSlash(g.path))); err == nil {
						owners[r] = fmt.Sprintf("%s %q in %s", kind, name, kfile)
					}
				}
			}
			for _, g := range kus.SecretGenerator {
				add("secretGenerator", g.Name, g.GeneratorArgs)
			}
			for _, g := range kus.ConfigMapGenerator {
				add("configMapGenerator", g.Name, g.GeneratorArgs)
			}
			return nil
		}
		owner, ok := owners[abs]
		if !ok {
			return nil
		}
		if _, enc := sopsmark.Detect(data); !enc {
			return nil
		}
		advice := "no decryption is configured (Options.Decryptor)"
		if strings.HasPrefix(owner, "configMapGenerator") {
			advice = "only secretGenerator sources can be decrypted"
		}
		return fmt.Errorf("%s: %w", owner, &PathError{Path: fsys.rel(abs), Err: fmt.Errorf(
			"%w: the file is SOPS-encrypted and %s; annotate the generated object %s: %s to keep the ciphertext",
			ErrStillEncrypted, advice, DecryptKey, DisabledValue)})
	}
}
