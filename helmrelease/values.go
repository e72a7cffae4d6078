package helmrelease

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/go-logr/logr"
	goyaml "go.yaml.in/yaml/v2"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/strvals"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/internal/sopsmark"
	"github.com/gitopskit/gitopskit/kustomize"
)

// The kinds a ValuesReference may name.
const (
	KindConfigMap = "ConfigMap"
	KindSecret    = "Secret"
)

// DefaultValuesKey is the data key read when ValuesReference.ValuesKey is
// empty, as in Flux.
const DefaultValuesKey = "values.yaml"

// Sentinels wrapped by ValuesError (errors.Is).
var (
	// ErrNotFound reports a referenced ConfigMap or Secret that does not
	// exist. A ValuesGetter returns an error wrapping it for an absent
	// object; it is the only error an optional reference tolerates besides
	// ErrKeyNotFound.
	ErrNotFound = errors.New("resource not found")
	// ErrKeyNotFound reports a referenced object without the values key.
	ErrKeyNotFound = errors.New("key not found")
	// ErrUnsupportedKind reports a reference to a kind other than
	// ConfigMap or Secret.
	ErrUnsupportedKind = errors.New("unsupported values reference kind")
	// ErrValuesRead reports values data that is not a YAML mapping.
	ErrValuesRead = errors.New("failed to read values data")
	// ErrValueMerge reports a value that cannot be set at its target path
	// (Helm's --set syntax).
	ErrValueMerge = errors.New("failed to merge value")
)

// ValuesReference is one entry of Flux's spec.valuesFrom: the data key of
// a ConfigMap or Secret in the release's namespace.
type ValuesReference struct {
	// Kind is "ConfigMap" or "Secret".
	Kind string
	// Name is the object's name.
	Name string
	// ValuesKey is the data key; empty means DefaultValuesKey.
	ValuesKey string
	// TargetPath, when set, is the path (Helm's --set syntax, e.g.
	// "a.b[0].c") the single value of the key is set at; empty merges the
	// key's YAML document at the root.
	TargetPath string
	// Optional tolerates an absent object or key (and nothing else).
	Optional bool
	// Literal sets the value at TargetPath as helm --set-literal does,
	// without interpreting commas, brackets or braces in it.
	Literal bool
}

// Key returns the data key the reference reads.
func (r ValuesReference) Key() string {
	if r.ValuesKey == "" {
		return DefaultValuesKey
	}
	return r.ValuesKey
}

// ValuesGetter returns the data of the ConfigMaps and Secrets that
// references name. A reconciler implements it with its Kubernetes client
// (ConfigMap data as bytes, Secret data decoded); ValuesData implements it
// over a map.
type ValuesGetter interface {
	// GetValuesData returns the data of the object of kind ("ConfigMap" or
	// "Secret") and name, or an error wrapping ErrNotFound when it does not
	// exist. The error must not carry the object's data.
	GetValuesData(ctx context.Context, kind, name string) (map[string][]byte, error)
}

// ObjectKey names a ConfigMap or Secret in ValuesData.
type ObjectKey struct {
	Kind, Name string
}

// ValuesData is a ValuesGetter over objects held in memory: a key absent
// from the map is not found.
type ValuesData map[ObjectKey]map[string][]byte

// GetValuesData implements ValuesGetter.
func (d ValuesData) GetValuesData(_ context.Context, kind, name string) (map[string][]byte, error) {
	data, ok := d[ObjectKey{Kind: kind, Name: name}]
	if !ok {
		return nil, fmt.Errorf("%s %q: %w", kind, name, ErrNotFound)
	}
	return data, nil
}

// ValuesFile is a values document read from a source artifact (a
// GitRepository, OCIRepository or Bucket path), not from the chart.
type ValuesFile struct {
	// Path names the file in messages.
	Path string
	// Data is the YAML document, SOPS-encrypted or not.
	Data []byte
}

// ValuesOptions is what ComposeValues composes. The zero value composes
// empty values.
type ValuesOptions struct {
	// Files are merged first, in order (later files win). Flux has no
	// such field; it serves values files kept next to the release's other
	// manifests without repackaging the chart.
	Files []ValuesFile
	// From is Flux's spec.valuesFrom, applied in order after Files.
	From []ValuesReference
	// Getter reads the objects From names; nil with a non-empty From is an
	// error.
	Getter ValuesGetter
	// Values is Flux's spec.values (inline values): merged last, so they
	// win over every file and reference.
	Values map[string]any
	// Decryptor, when set, decrypts SOPS-encrypted values: a Files entry,
	// or a data key of a referenced object, that carries SOPS metadata.
	// Without it such input fails with kustomize.ErrStillEncrypted rather
	// than being used as ciphertext. Plaintext lives only in the composed
	// values (which Helm stores in the release Secret); it is never logged
	// nor put in an error.
	Decryptor kustomize.Decryptor
}

// ComposedValues are the values of a release and their digest.
type ComposedValues struct {
	// Values are the composed values (never nil).
	Values map[string]any
	// Digest is "sha256:<hex>" of the values as Flux digests them (YAML
	// with keys sorted), the status.lastAttemptedValuesChecksum of Flux's
	// HelmRelease.
	Digest string
}

// ValuesError reports a values input that could not be used. It names the
// reference (kind, name and key) or file, never a value.
type ValuesError struct {
	// Kind and Name name the referenced object; Kind is empty for a file.
	Kind, Name string
	// Key is the data key, or the file's path.
	Key string
	// Optional reports an optional reference.
	Optional bool
	// Reason is one of the sentinels of this package, or
	// kustomize.ErrStillEncrypted.
	Reason error
	// Err is the underlying error, when it carries no value.
	Err error
}

// Error implements error.
func (e *ValuesError) Error() string {
	var b strings.Builder
	if e.Kind == "" {
		fmt.Fprintf(&b, "could not read values file %q", e.Key)
	} else {
		b.WriteString("could not resolve")
		if e.Optional {
			b.WriteString(" optional")
		}
		fmt.Fprintf(&b, " %s chart values reference %q with key %q", e.Kind, e.Name, e.Key)
	}
	b.WriteString(": ")
	switch {
	case e.Err != nil && e.Reason != nil && !errors.Is(e.Err, e.Reason):
		b.WriteString(e.Reason.Error() + ": " + e.Err.Error())
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	case e.Reason != nil:
		b.WriteString(e.Reason.Error())
	default:
		b.WriteString("unknown error")
	}
	return b.String()
}

// Is matches the error's Reason.
func (e *ValuesError) Is(target error) bool { return e.Reason != nil && e.Reason == target }

// Unwrap returns the underlying error.
func (e *ValuesError) Unwrap() error { return e.Err }

// ComposeValues composes a release's values as Flux's helm-controller
// does: Files merged in order, then each From reference in order (a YAML
// document merged at the root, or a single value set at its TargetPath
// with Helm's --set parser, the inline Values merged in first so that
// list indices in the path see them), then the inline Values on top of
// everything. An object read twice is read once. An optional reference
// tolerates only an absent object or key, logged at info level through
// the logr.Logger of ctx. Merging replaces lists and scalars and merges
// maps key by key (MergeValues).
func ComposeValues(ctx context.Context, opts ValuesOptions) (ComposedValues, error) {
	log := logr.FromContextOrDiscard(ctx)
	result := map[string]any{}
	// Flux composes a fresh copy of spec.values; the target path entries
	// may write into it (see the package documentation), the caller's map
	// stays untouched.
	inline, _ := deepCopy(opts.Values).(map[string]any)
	var session kustomize.DecryptSession
	decrypt := func(data []byte, asSecretKey string) ([]byte, error) {
		if _, ok := sopsmark.Detect(data); !ok {
			return data, nil
		}
		if opts.Decryptor == nil {
			return nil, fmt.Errorf("%w: no decryption is configured (ValuesOptions.Decryptor)", kustomize.ErrStillEncrypted)
		}
		if session == nil {
			s, err := opts.Decryptor.NewSession(ctx)
			if err != nil {
				return nil, fmt.Errorf("decryption session: %w", err)
			}
			if s == nil {
				return nil, errors.New("the Decryptor returned no session")
			}
			session = s
		}
		// The data travels as a Secret's data entry: the session decrypts
		// the SOPS documents such entries hold and keeps them in Secrets.
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1",
			"kind":       "Secret",
			"metadata":   map[string]any{"name": "values"},
			"data":       map[string]any{asSecretKey: base64.StdEncoding.EncodeToString(data)},
		}}
		if err := session.DecryptObject(ctx, obj); err != nil {
			return nil, err
		}
		enc, _, _ := unstructured.NestedString(obj.Object, "data", asSecretKey)
		out, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return nil, errors.New("decrypted data is not base64")
		}
		if _, still := sopsmark.Detect(out); still {
			return nil, kustomize.ErrStillEncrypted
		}
		return out, nil
	}

	for _, f := range opts.Files {
		data, err := decrypt(f.Data, "values.yaml")
		if err != nil {
			return ComposedValues{}, &ValuesError{Key: f.Path, Reason: reasonOf(err), Err: err}
		}
		vals, err := ReadValues(data)
		if err != nil {
			return ComposedValues{}, &ValuesError{Key: f.Path, Reason: ErrValuesRead, Err: err}
		}
		result = MergeValues(result, vals)
	}

	type cached struct {
		data map[string][]byte
		err  error
	}
	seen := map[ObjectKey]cached{}
	for _, ref := range opts.From {
		verr := func(reason, err error) *ValuesError {
			return &ValuesError{Kind: ref.Kind, Name: ref.Name, Key: ref.Key(), Optional: ref.Optional, Reason: reason, Err: err}
		}
		if ref.Kind != KindConfigMap && ref.Kind != KindSecret {
			return ComposedValues{}, verr(ErrUnsupportedKind, nil)
		}
		if opts.Getter == nil {
			return ComposedValues{}, verr(ErrNotFound, errors.New("no ValuesGetter to read it"))
		}
		k := ObjectKey{Kind: ref.Kind, Name: ref.Name}
		c, ok := seen[k]
		if !ok {
			c.data, c.err = opts.Getter.GetValuesData(ctx, ref.Kind, ref.Name)
			seen[k] = c
		}
		if c.err != nil {
			if errors.Is(c.err, ErrNotFound) {
				e := verr(ErrNotFound, nil)
				if ref.Optional {
					log.Info(e.Error())
					continue
				}
				return ComposedValues{}, e
			}
			return ComposedValues{}, verr(nil, c.err)
		}
		raw, ok := c.data[ref.Key()]
		if !ok {
			e := verr(ErrKeyNotFound, nil)
			if ref.Optional {
				log.Info(e.Error())
				continue
			}
			return ComposedValues{}, e
		}
		data, err := decrypt(raw, ref.Key())
		if err != nil {
			return ComposedValues{}, verr(reasonOf(err), err)
		}
		if ref.TargetPath != "" {
			result = MergeValues(result, inline)
			if err := SetPath(result, ref.TargetPath, string(data), ref.Literal); err != nil {
				return ComposedValues{}, verr(ErrValueMerge, err)
			}
			continue
		}
		vals, err := ReadValues(data)
		if err != nil {
			return ComposedValues{}, verr(ErrValuesRead, err)
		}
		result = MergeValues(result, vals)
	}
	result = MergeValues(result, inline)
	return ComposedValues{Values: result, Digest: DigestValues(result)}, nil
}

// deepCopy copies the maps and lists of a values tree.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if t == nil {
			return t
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		if t == nil {
			return t
		}
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}

// reasonOf classifies a decryption error.
func reasonOf(err error) error {
	if errors.Is(err, kustomize.ErrStillEncrypted) {
		return kustomize.ErrStillEncrypted
	}
	if errors.Is(err, kustomize.ErrDecryptRefused) {
		return kustomize.ErrDecryptRefused
	}
	return ErrValuesRead
}

// MergeValues returns a new map with b merged over a, as Flux and the helm
// CLI merge values files: a map in b merges into a map in a key by key;
// any other value of b (a list, a scalar, null, or a map over a non-map)
// replaces a's. Neither argument is modified (nested maps of a that b does
// not touch are shared with the result).
func MergeValues(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = MergeValues(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// literalEscaper escapes what Helm's --set parser would interpret in a
// value (helm --set-literal semantics).
var literalEscaper = strings.NewReplacer(`\`, `\\`, `,`, `\,`, `[`, `\[`, `]`, `\]`, `{`, `\{`, `}`, `\}`)

// errSetSyntax is reported instead of the --set parser's own errors, which
// quote parts of the value.
var errSetSyntax = errors.New("the target path and value do not parse as Helm's --set syntax")

// SetPath sets value at path in values with Helm's --set parser, as Flux
// sets a valuesFrom entry with a targetPath: a value wrapped in single or
// double quotes loses them and stays a string (--set-string), any other is
// typed as --set types it (numbers, booleans, null); literal sets the
// value as a string without interpreting commas, brackets or braces
// (--set-literal). The error never quotes the value.
func SetPath(values map[string]any, path, value string, literal bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errSetSyntax
		}
	}()
	if literal {
		err = strvals.ParseIntoString(path+"="+literalEscaper.Replace(value), values)
	} else {
		quoted := len(value) > 0 &&
			((strings.HasPrefix(value, "'") && strings.HasSuffix(value, "'")) ||
				(strings.HasPrefix(value, `"`) && strings.HasSuffix(value, `"`)))
		if quoted {
			err = strvals.ParseIntoString(path+"="+strings.Trim(value, `'"`), values)
		} else {
			err = strvals.ParseInto(path+"="+value, values)
		}
	}
	if err != nil {
		return fmt.Errorf("target path %q: %w", path, errSetSyntax)
	}
	return nil
}

// yamlLine finds the line number in a YAML error.
var yamlLine = regexp.MustCompile(`line (\d+)`)

// ReadValues parses a YAML (or JSON) values document as Helm reads values
// files; an empty document gives empty values. The error gives the line
// at fault, never the document's content.
func ReadValues(data []byte) (vals map[string]any, err error) {
	defer func() {
		if r := recover(); r != nil {
			vals, err = nil, errors.New("the values parser failed on this document")
		}
	}()
	v, err := common.ReadValues(data)
	if err != nil {
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("not a YAML mapping of values (line %s)", m[1])
		}
		return nil, errors.New("not a YAML mapping of values")
	}
	return map[string]any(v), nil
}

// DigestValues returns "sha256:<hex>" of values as Flux's helm-controller
// digests them: YAML (go-yaml v2) of the values with map keys sorted
// bytewise at every level; empty values digest as no bytes at all.
func DigestValues(values map[string]any) string {
	h := sha256.New()
	if len(values) > 0 {
		if err := goyaml.NewEncoder(h).Encode(sortedYAML(values)); err != nil {
			return ""
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// sortedYAML converts values as sigs.k8s.io/yaml's JSONObjectToYAMLObject
// does (maps to MapSlices, empty maps to nil, integral floats to
// integers), with map keys sorted bytewise.
func sortedYAML(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if t == nil {
			return nil
		}
		return sortedMap(t)
	case []any:
		if t == nil {
			return nil
		}
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = sortedYAML(e)
		}
		return out
	case float64:
		if i64 := int64(t); t == float64(i64) {
			return i64
		}
		if u64 := uint64(t); t == float64(u64) {
			return u64
		}
		return t
	default:
		return v
	}
}

func sortedMap(m map[string]any) goyaml.MapSlice {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ms := make(goyaml.MapSlice, 0, len(m))
	for _, k := range keys {
		ms = append(ms, goyaml.MapItem{Key: k, Value: sortedYAML(m[k])})
	}
	return ms
}
