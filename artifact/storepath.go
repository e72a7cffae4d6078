package artifact

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// ErrInvalidPath is returned when a kind, namespace, name, file name or
// store path is not one the store accepts, or when the store's layout has
// been tampered with (a symbolic link or a file where a directory belongs).
// The error text names the field and the reason.
var ErrInvalidPath = errors.New("invalid store path")

// Limits of the store path segments, those of Kubernetes object names.
const (
	maxKindLen      = 63
	maxNamespaceLen = 63
	maxNameLen      = 253
	maxFileLen      = 200
)

// objectDir names the directory holding one object's artifacts. Kind is
// lower-cased.
type objectDir struct {
	kind, namespace, name string
}

// dir returns the object's directory relative to the store root.
func (k objectDir) dir() string { return k.kind + "/" + k.namespace + "/" + k.name }

func (k objectDir) parts() []string { return []string{k.kind, k.namespace, k.name} }

// storePath is a validated `<kind>/<namespace>/<name>/<file>`.
type storePath struct {
	key  objectDir
	file string
}

func (p storePath) String() string { return p.key.dir() + "/" + p.file }

// newObjectDir validates an object's kind, namespace and name as the
// store's directory segments and returns its key.
func newObjectDir(kind, namespace, name string) (objectDir, error) {
	if err := validateKind(kind); err != nil {
		return objectDir{}, err
	}
	if err := validateNamespace(namespace); err != nil {
		return objectDir{}, err
	}
	if err := validateName(name); err != nil {
		return objectDir{}, err
	}
	return objectDir{kind: strings.ToLower(kind), namespace: namespace, name: name}, nil
}

// parseStorePath validates p as exactly `<kind>/<namespace>/<name>/<file>`
// with a lower-case kind; nothing else addresses a file in the store.
func parseStorePath(p string) (storePath, error) {
	if p == "" {
		return storePath{}, fmt.Errorf("artifact store: path is empty: %w", ErrInvalidPath)
	}
	parts := strings.Split(p, "/")
	if len(parts) != 4 {
		return storePath{}, fmt.Errorf("artifact store: path %q is not <kind>/<namespace>/<name>/<file>: %w", truncate(p, 256), ErrInvalidPath)
	}
	if parts[0] != strings.ToLower(parts[0]) {
		return storePath{}, fmt.Errorf("artifact store: path %q: kind %q is not lower-case: %w", truncate(p, 256), truncate(parts[0], 64), ErrInvalidPath)
	}
	key, err := newObjectDir(parts[0], parts[1], parts[2])
	if err != nil {
		return storePath{}, fmt.Errorf("artifact store: path %q: %w", truncate(p, 256), err)
	}
	if err := validateFile(parts[3]); err != nil {
		return storePath{}, fmt.Errorf("artifact store: path %q: %w", truncate(p, 256), err)
	}
	return storePath{key: key, file: parts[3]}, nil
}

// cleanStorePath returns p, validated by parseStorePath.
func cleanStorePath(p string) (string, error) {
	sp, err := parseStorePath(p)
	if err != nil {
		return "", err
	}
	return sp.String(), nil
}

// segmentError refuses the cases every segment shares: empty, a relative
// path element, a separator, NUL or another control character, too long.
func segmentError(field, v string, maxLen int) error {
	reason := ""
	switch {
	case v == "":
		reason = "is empty"
	case v == "." || v == "..":
		reason = "is a relative path element"
	case strings.Contains(v, "/"):
		reason = "contains a slash"
	case strings.Contains(v, `\`):
		reason = "contains a backslash"
	case strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		reason = "contains NUL or a control character"
	case len(v) > maxLen:
		reason = fmt.Sprintf("is longer than %d characters", maxLen)
	default:
		return nil
	}
	return fmt.Errorf("%s %q %s: %w", field, truncate(v, 64), reason, ErrInvalidPath)
}

// validateKind accepts an object kind: ASCII letters only.
func validateKind(kind string) error {
	if err := segmentError("kind", kind, maxKindLen); err != nil {
		return err
	}
	for i := 0; i < len(kind); i++ {
		c := kind[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return fmt.Errorf("kind %q must consist of ASCII letters only: %w", truncate(kind, 64), ErrInvalidPath)
		}
	}
	return nil
}

// validateNamespace accepts a DNS-1123 label, as Kubernetes namespaces are.
func validateNamespace(ns string) error {
	if err := segmentError("namespace", ns, maxNamespaceLen); err != nil {
		return err
	}
	if !isDNSLabel(ns) {
		return fmt.Errorf("namespace %q must be a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit): %w", truncate(ns, 64), ErrInvalidPath)
	}
	return nil
}

// validateName accepts a DNS-1123 subdomain, as Kubernetes object names
// are.
func validateName(name string) error {
	if err := segmentError("name", name, maxNameLen); err != nil {
		return err
	}
	for _, label := range strings.Split(name, ".") {
		if !isDNSLabel(label) {
			return fmt.Errorf("name %q must be a DNS-1123 subdomain (dot-separated labels of lower-case letters, digits and '-', each starting and ending with a letter or digit): %w", truncate(name, 64), ErrInvalidPath)
		}
	}
	return nil
}

// validateFile accepts a file name: one path component, not hidden (a
// leading dot marks the store's temporary files).
func validateFile(file string) error {
	if err := segmentError("file name", file, maxFileLen); err != nil {
		return err
	}
	if strings.HasPrefix(file, ".") {
		return fmt.Errorf("file name %q is hidden (starts with a dot): %w", truncate(file, 64), ErrInvalidPath)
	}
	return nil
}

func isDNSLabel(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

// openDirs opens the directory parts[0]/parts[1]/... under root as a Root
// of its own, one component at a time, creating missing ones when create
// is set. A component that is a symbolic link or not a directory is
// refused rather than followed; every open goes through an os.Root, so
// even a link swapped in meanwhile cannot lead outside root. A missing
// component without create is an error satisfying errors.Is(err,
// fs.ErrNotExist).
func openDirs(root *os.Root, parts []string, create bool) (*os.Root, error) {
	cur := root
	closeCur := func() {
		if cur != root {
			cur.Close()
		}
	}
	for i, part := range parts {
		fi, err := cur.Lstat(part)
		if create && errors.Is(err, fs.ErrNotExist) {
			if err = cur.Mkdir(part, 0o750); err == nil || errors.Is(err, fs.ErrExist) {
				fi, err = cur.Lstat(part)
			}
		}
		if err != nil {
			closeCur()
			return nil, err
		}
		rel := strings.Join(parts[:i+1], "/")
		if fi.Mode()&fs.ModeSymlink != 0 {
			closeCur()
			return nil, fmt.Errorf("artifact store: %s is a symbolic link, which the store never follows: %w", rel, ErrInvalidPath)
		}
		if !fi.IsDir() {
			closeCur()
			return nil, fmt.Errorf("artifact store: %s is not a directory: %w", rel, ErrInvalidPath)
		}
		next, err := cur.OpenRoot(part)
		closeCur()
		if err != nil {
			return nil, err
		}
		cur = next
	}
	if cur == root {
		// Callers close what they get; never hand out root itself.
		return root.OpenRoot(".")
	}
	return cur, nil
}
