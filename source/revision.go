package source

import (
	"fmt"
	"strings"
)

// Digest algorithms used in revisions.
const (
	SHA1   = "sha1"
	SHA256 = "sha256"
	SHA384 = "sha384"
	SHA512 = "sha512"
)

// hexLen is the hex length of each known digest algorithm.
var hexLen = map[string]int{SHA1: 40, SHA256: 64, SHA384: 96, SHA512: 128}

// Revision is a parsed revision string: an optional name (branch, tag,
// full reference or OCI tag), a digest algorithm and a lowercase hex digest.
type Revision struct {
	// Name is the branch, tag or reference; empty for a bare digest.
	Name string
	// Algorithm is the digest algorithm, for example "sha1" or "sha256".
	Algorithm string
	// Digest is the lowercase hex digest.
	Digest string
}

// String returns the revision in Flux's format: "<name>@<algo>:<hex>", or
// "<algo>:<hex>" when Name is empty.
func (r Revision) String() string {
	return FormatRevision(r.Name, r.Algorithm, r.Digest)
}

// FormatRevision builds a revision string in Flux's format. The digest is
// lowercased; an empty name yields the bare form "<algo>:<hex>".
func FormatRevision(name, algorithm, digest string) string {
	d := algorithm + ":" + strings.ToLower(digest)
	if name == "" {
		return d
	}
	return name + "@" + d
}

// GitRevision returns the revision of a Git commit: "<ref>@sha1:<hex>" or,
// with an empty ref, "sha1:<hex>".
func GitRevision(ref, commit string) string {
	return FormatRevision(ref, SHA1, commit)
}

// ParseRevision parses a revision in Flux's current format
// ("<name>@<algo>:<hex>" or "<algo>:<hex>") or in its legacy formats
// ("<name>/<hex>" and a bare hex digest, whose algorithm is inferred from
// its length: 40 hex digits are sha1, 64 are sha256).
func ParseRevision(s string) (Revision, error) {
	if s == "" {
		return Revision{}, fmt.Errorf("revision is empty")
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return Revision{}, fmt.Errorf("revision %q contains whitespace", s)
	}
	name, rest := "", s
	if i := strings.LastIndex(s, "@"); i >= 0 {
		name, rest = s[:i], s[i+1:]
		if name == "" {
			return Revision{}, fmt.Errorf("revision %q has an empty name before '@'", s)
		}
	}
	if algo, digest, ok := strings.Cut(rest, ":"); ok {
		if err := checkDigest(algo, digest); err != nil {
			return Revision{}, fmt.Errorf("revision %q: %w", s, err)
		}
		return Revision{Name: name, Algorithm: algo, Digest: digest}, nil
	}
	if name != "" {
		return Revision{}, fmt.Errorf("revision %q: want <algorithm>:<hex> after '@'", s)
	}
	// Legacy forms.
	if i := strings.LastIndex(s, "/"); i >= 0 {
		name, rest = s[:i], s[i+1:]
		if name == "" {
			return Revision{}, fmt.Errorf("revision %q has an empty name before '/'", s)
		}
	}
	algo := ""
	switch len(rest) {
	case hexLen[SHA1]:
		algo = SHA1
	case hexLen[SHA256]:
		algo = SHA256
	}
	if algo == "" {
		return Revision{}, fmt.Errorf("revision %q: not in the form <name>@<algorithm>:<hex>", s)
	}
	if err := checkDigest(algo, strings.ToLower(rest)); err != nil {
		return Revision{}, fmt.Errorf("revision %q: %w", s, err)
	}
	return Revision{Name: name, Algorithm: algo, Digest: strings.ToLower(rest)}, nil
}

func checkDigest(algo, digest string) error {
	n, ok := hexLen[algo]
	if !ok {
		return fmt.Errorf("unknown digest algorithm %q", algo)
	}
	if len(digest) != n {
		return fmt.Errorf("%s digest must have %d hex digits, got %d", algo, n, len(digest))
	}
	for _, c := range digest {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("%s digest has a character that is not lowercase hex: %q", algo, c)
		}
	}
	return nil
}

// RevisionsEqual reports whether two revision strings denote the same name
// and digest, accepting Flux's legacy forms on either side
// ("main/<sha>" equals "main@sha1:<sha>"). Strings that do not parse are
// compared literally.
func RevisionsEqual(a, b string) bool {
	ra, errA := ParseRevision(a)
	rb, errB := ParseRevision(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return ra == rb
}

// SameDigest reports whether two revisions point to the same digest,
// ignoring their names.
func SameDigest(a, b string) bool {
	ra, errA := ParseRevision(a)
	rb, errB := ParseRevision(b)
	if errA != nil || errB != nil {
		return false
	}
	return ra.Algorithm == rb.Algorithm && ra.Digest == rb.Digest
}

// OCIRevision returns the revision of an OCI artifact: "<tag>@<digest>",
// or the digest alone ("sha256:<hex>") when tag is empty, as Flux's
// OCIRepository reports it. digest is a content digest "<algo>:<hex>";
// its hex part is lowercased.
func OCIRevision(tag, digest string) string {
	algo, hex, ok := strings.Cut(digest, ":")
	if !ok {
		return FormatRevision(tag, SHA256, digest)
	}
	return FormatRevision(tag, algo, hex)
}

// RevisionDigest returns the "<algo>:<hex>" digest part of a revision in
// Flux's current format ("<name>@<algo>:<hex>" or "<algo>:<hex>"), or ""
// when the revision does not parse.
func RevisionDigest(revision string) string {
	r, err := ParseRevision(revision)
	if err != nil {
		return ""
	}
	return r.Algorithm + ":" + r.Digest
}
