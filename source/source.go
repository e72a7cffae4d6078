package source

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Snapshot describes a tree that a Fetcher wrote to a directory.
type Snapshot struct {
	// Revision identifies what was fetched, in Flux's format
	// (for example "main@sha1:<hex>"); see FormatRevision.
	Revision string
	// Metadata holds optional origin-specific key/value pairs. It may be nil.
	Metadata map[string]string
	// Commit describes the checked-out commit for Git sources; nil for
	// origins that have no commits.
	Commit *Commit
}

// Commit is the typed description of a Git commit (or of the commit a tag
// points to) as returned by a Git source.
type Commit struct {
	// Hash is the hex object name of the commit.
	Hash string
	// Reference is the full reference the commit was found through
	// (for example "refs/heads/main"); empty for a bare commit checkout.
	Reference string
	// Author and Committer identify who wrote and who committed the change.
	Author, Committer Signature
	// Message is the full commit message.
	Message string
	// Signature is the armored PGP or SSH signature of the commit, if any.
	Signature string
	// VerifiedBy names the key that verified the commit's signature, empty
	// when no verification was requested.
	VerifiedBy string
	// TagVerifiedBy names the key that verified the tag's signature, empty
	// when the tag was not verified.
	TagVerifiedBy string
}

// ShortMessage returns the first line of the commit message, cut at 50
// runes and then marked with "...", as Flux shows it in events.
func (c Commit) ShortMessage() string {
	m := c.Message
	for i, r := range m {
		if r == '\n' {
			m = m[:i]
			break
		}
	}
	rs := []rune(m)
	if len(rs) > 50 {
		return string(rs[:50]) + "..."
	}
	return m
}

// Signature is a name, e-mail address and time as recorded in a commit.
type Signature struct {
	Name  string
	Email string
	When  time.Time
}

// Fetcher is implemented by every configured source. Fetch writes the tree
// into dir (which must be empty or absent) and returns its Snapshot. When
// last is a revision still current at the origin, Fetch returns
// ErrUnchanged and writes nothing.
type Fetcher interface {
	Fetch(ctx context.Context, dir, last string) (Snapshot, error)
}

// Sentinel errors shared by all origins. Origins wrap them with %w.
var (
	// ErrUnchanged reports that the last revision is still current and
	// nothing was downloaded.
	ErrUnchanged = errors.New("source unchanged")
	// ErrAuth reports an authentication or authorization failure, including
	// an SSH host key that is not in known_hosts.
	ErrAuth = errors.New("authentication failed")
	// ErrNotFound reports that the repository (or bucket, chart repository,
	// OCI repository) does not exist.
	ErrNotFound = errors.New("repository not found")
	// ErrRefNotFound reports that the requested branch, tag, version range,
	// reference or commit does not exist in the repository.
	ErrRefNotFound = errors.New("reference not found")
	// ErrVerification reports a failed signature or digest verification.
	ErrVerification = errors.New("verification failed")
	// ErrNetwork reports a failure to reach the origin (DNS, connection,
	// TLS, timeouts).
	ErrNetwork = errors.New("network failure")
	// ErrInvalid reports a configuration that cannot be acted on: a
	// malformed URL, reference, version range or path, credentials or
	// options that do not fit together, a missing required field. It is
	// found before anything is downloaded, and retrying does not help:
	// the configuration must change.
	ErrInvalid = errors.New("invalid configuration")
)

// invalidError is a configuration error of this package: its text is the
// description alone and it unwraps to ErrInvalid.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Unwrap() error { return ErrInvalid }

// invalidf formats a configuration error that unwraps to ErrInvalid.
func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}
