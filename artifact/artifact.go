package artifact

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"strings"
	"time"
)

// Artifact describes one stored tarball (or other file), mirroring the
// Artifact type of Flux's source API.
type Artifact struct {
	// Path is the slash-separated location of the file relative to the
	// store root, `<kind>/<namespace>/<name>/<file>`.
	Path string `json:"path"`
	// URL is where the file can be downloaded from.
	URL string `json:"url"`
	// Revision is the source revision the artifact was built from, in Flux's
	// formats (for example `main@sha1:<hex>`).
	Revision string `json:"revision"`
	// Digest is the digest of the file, `<algorithm>:<hex>`, normally
	// `sha256:<hex>`.
	Digest string `json:"digest,omitempty"`
	// LastUpdateTime is when the file was last written.
	LastUpdateTime time.Time `json:"lastUpdateTime"`
	// Size is the size of the file in bytes.
	Size int64 `json:"size,omitempty"`
	// Metadata holds arbitrary key/value pairs (for example OCI annotations).
	Metadata map[string]string `json:"metadata,omitempty"`
}

// HasRevision reports whether the artifact was built from revision.
func (a Artifact) HasRevision(revision string) bool {
	return a.Revision != "" && a.Revision == revision
}

// HasDigest reports whether the artifact's digest equals digest.
func (a Artifact) HasDigest(digest string) bool {
	return a.Digest != "" && a.Digest == digest
}

// ObjectKey names the object an artifact belongs to: the kind, namespace
// and name of a source object (a GitRepository, say). A store keeps each
// object's artifacts together and addresses them through its key.
type ObjectKey struct {
	// Kind is the object's kind, ASCII letters only (for example
	// "GitRepository"); the store lower-cases it.
	Kind string
	// Namespace is the object's namespace, a DNS-1123 label.
	Namespace string
	// Name is the object's name, a DNS-1123 subdomain.
	Name string
}

// String returns `<kind>/<namespace>/<name>` as given.
func (k ObjectKey) String() string { return k.Kind + "/" + k.Namespace + "/" + k.Name }

// Validate checks that Kind, Namespace and Name are each a single valid
// path segment (see ObjectKey's fields); an invalid value is an error
// wrapping ErrInvalidPath that names the field.
func (k ObjectKey) Validate() error {
	_, err := newObjectDir(k.Kind, k.Namespace, k.Name)
	return err
}

// ArtifactPath returns the store path Flux uses for the object's file
// filename: `<lowercased kind>/<namespace>/<name>/<filename>`. It only
// joins; Store refuses a path whose segments are not valid (see
// ErrInvalidPath).
func (k ObjectKey) ArtifactPath(filename string) string {
	return strings.ToLower(k.Kind) + "/" + k.Namespace + "/" + k.Name + "/" + filename
}

// ErrDigestMismatch is returned (wrapped in a *DigestMismatchError) when
// content does not have the digest it was expected to have.
var ErrDigestMismatch = errors.New("digest mismatch")

// ErrInvalidOption is returned (wrapped) when an option or option field
// has a value outside its documented range.
var ErrInvalidOption = errors.New("invalid option")

// ErrInvalidDigest is returned when a digest string is not
// `<algorithm>:<hex>` with a supported algorithm and a hex value of the
// right length.
var ErrInvalidDigest = errors.New("invalid digest")

// DigestMismatchError reports the expected and the computed digest.
type DigestMismatchError struct {
	// Expected is the digest the content should have had.
	Expected string
	// Actual is the digest computed from the content.
	Actual string
}

// Error implements error.
func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("digest mismatch: expected %s, computed %s", e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrDigestMismatch) true.
func (e *DigestMismatchError) Is(target error) bool { return target == ErrDigestMismatch }

// Digester computes a digest while content is written to it.
type Digester struct {
	algorithm string
	h         hash.Hash
}

// NewDigester returns a Digester for algorithm: "sha256", "sha384" or
// "sha512".
func NewDigester(algorithm string) (*Digester, error) {
	var h hash.Hash
	switch algorithm {
	case "sha256":
		h = sha256.New()
	case "sha384":
		h = sha512.New384()
	case "sha512":
		h = sha512.New()
	default:
		return nil, fmt.Errorf("%w: unsupported algorithm %q (want sha256, sha384 or sha512)", ErrInvalidDigest, truncate(algorithm, 32))
	}
	return &Digester{algorithm: algorithm, h: h}, nil
}

// Write adds p to the digest; it never fails.
func (d *Digester) Write(p []byte) (int, error) { return d.h.Write(p) }

// Digest returns `<algorithm>:<hex>` for everything written so far.
func (d *Digester) Digest() string {
	return d.algorithm + ":" + hex.EncodeToString(d.h.Sum(nil))
}

// ParseDigest splits a digest into algorithm and hex value, checking that
// the algorithm is supported and the value is lower-case hex of the right
// length.
func ParseDigest(digest string) (algorithm, value string, err error) {
	algorithm, value, ok := strings.Cut(digest, ":")
	if !ok {
		return "", "", fmt.Errorf("%w: %q has no algorithm prefix", ErrInvalidDigest, truncate(digest, 80))
	}
	var want int
	switch algorithm {
	case "sha256":
		want = 64
	case "sha384":
		want = 96
	case "sha512":
		want = 128
	default:
		return "", "", fmt.Errorf("%w: unsupported algorithm %q (want sha256, sha384 or sha512)", ErrInvalidDigest, truncate(algorithm, 32))
	}
	if len(value) != want {
		return "", "", fmt.Errorf("%w: %s value has %d characters, want %d", ErrInvalidDigest, algorithm, len(value), want)
	}
	for _, c := range value {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", "", fmt.Errorf("%w: %s value is not lower-case hex", ErrInvalidDigest, algorithm)
		}
	}
	return algorithm, value, nil
}

// DigestOf reads r to the end and returns its digest with algorithm.
func DigestOf(r io.Reader, algorithm string) (string, error) {
	d, err := NewDigester(algorithm)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(d, r); err != nil {
		return "", fmt.Errorf("computing digest: %w", err)
	}
	return d.Digest(), nil
}

// VerifyDigest reads r to the end and checks that it has digest expected.
// A mismatch is a *DigestMismatchError.
func VerifyDigest(r io.Reader, expected string) error {
	alg, _, err := ParseDigest(expected)
	if err != nil {
		return err
	}
	got, err := DigestOf(r, alg)
	if err != nil {
		return err
	}
	if got != expected {
		return &DigestMismatchError{Expected: expected, Actual: got}
	}
	return nil
}

// redactURL returns u without user information, query or fragment, so it
// can go into errors and logs without leaking credentials or signed tokens.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	u.User = nil
	u.RawQuery = ""
	u.ForceQuery = false
	u.Fragment = ""
	u.RawFragment = ""
	return u.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
