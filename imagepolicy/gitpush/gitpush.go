package gitpush

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-logr/logr"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"

	"github.com/gitopskit/gitopskit/source"
)

// ErrNoChanges is returned by CommitAndPush when the working tree has no
// change to commit: nothing is committed or pushed.
var ErrNoChanges = errors.New("no changes to commit")

// ErrRejected is the Kind of the error of a push the server refused, most
// often because the branch moved since the clone (not a fast-forward); the
// next attempt, from a fresh clone, normally succeeds.
var ErrRejected = errors.New("push rejected")

// CloneOptions says what to clone and how to reach it.
type CloneOptions struct {
	// URL is the repository's address (https://, http://, ssh://).
	URL string
	// Auth is go-git's authentication (basic, token, SSH keys); nil means
	// none.
	Auth transport.AuthMethod
	// CABundle holds PEM certificates trusted besides the system roots.
	CABundle []byte
	// Proxy is go-git's proxy configuration; empty means none.
	Proxy transport.ProxyOptions
	// Branch is the checkout branch (spec.git.checkout.ref.branch, or the
	// GitRepository's branch). Required.
	Branch string
	// PushBranch is the branch to push to; empty means Branch.
	PushBranch string
	// Shallow clones only the branch heads (depth 1), as Flux does with its
	// default GitShallowClone gate; the push then sends only the new
	// commit's objects.
	Shallow bool
	// ResetPushBranch starts a PushBranch that differs from Branch from
	// Branch's head even when it exists on the remote (and so overwrites
	// it); by default the commit goes on top of the existing push branch,
	// as Flux does with its default GitAllBranchReferences gate.
	ResetPushBranch bool
}

// Repo is a cloned working copy.
type Repo struct {
	dir        string
	repo       *gogit.Repository
	opts       CloneOptions
	checkout   string
	red        *source.Redactor
	cleanURL   string
	switchPush bool
}

// Clone clones opts.Branch into dir (which must be empty or absent) and
// switches to the push branch when it differs.
func Clone(ctx context.Context, dir string, opts CloneOptions) (*Repo, error) {
	red := source.NewRedactor()
	red.AddURL(opts.URL)
	if b, ok := opts.Auth.(*githttp.BasicAuth); ok && b != nil {
		red.AddBasicAuth(b.Username, b.Password)
	}
	if t, ok := opts.Auth.(*githttp.TokenAuth); ok && t != nil {
		red.AddSecret(t.Token)
	}
	r := &Repo{dir: dir, opts: opts, red: red, cleanURL: source.RedactURL(opts.URL)}
	if opts.Branch == "" {
		return nil, r.fail("clone", source.ErrInvalid, "the checkout branch is not set")
	}
	if opts.PushBranch == "" {
		r.opts.PushBranch = opts.Branch
	}
	r.switchPush = r.opts.PushBranch != opts.Branch
	depth := 0
	if opts.Shallow {
		depth = 1
	}
	repo, err := gogit.PlainCloneContext(ctx, dir, false, &gogit.CloneOptions{
		URL:           opts.URL,
		Auth:          opts.Auth,
		CABundle:      opts.CABundle,
		ProxyOptions:  opts.Proxy,
		ReferenceName: plumbing.NewBranchReferenceName(opts.Branch),
		SingleBranch:  !r.switchPush || opts.ResetPushBranch,
		Tags:          gogit.NoTags,
		Depth:         depth,
	})
	if err != nil {
		return nil, r.classify(ctx, "clone", err)
	}
	r.repo = repo
	head, err := repo.Head()
	if err != nil {
		return nil, r.fail("clone", nil, err.Error())
	}
	r.checkout = head.Hash().String()
	if r.switchPush {
		if err := r.switchBranch(); err != nil {
			return nil, err
		}
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("cloned", "url", r.cleanURL, "branch", opts.Branch, "commit", r.checkout)
	return r, nil
}

// switchBranch checks out the push branch: the remote one when it exists
// and ResetPushBranch is off, else a new branch at the checkout head.
func (r *Repo) switchBranch() error {
	wt, err := r.repo.Worktree()
	if err != nil {
		return r.fail("checkout", nil, err.Error())
	}
	target := plumbing.NewBranchReferenceName(r.opts.PushBranch)
	start := plumbing.NewHash(r.checkout)
	if !r.opts.ResetPushBranch {
		remote, err := r.repo.Reference(plumbing.NewRemoteReferenceName("origin", r.opts.PushBranch), true)
		if err == nil {
			start = remote.Hash()
		} else if !errors.Is(err, plumbing.ErrReferenceNotFound) {
			return r.fail("checkout", nil, err.Error())
		}
	}
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(target, start)); err != nil {
		return r.fail("checkout", nil, err.Error())
	}
	if err := wt.Checkout(&gogit.CheckoutOptions{Branch: target, Force: true}); err != nil {
		return r.fail("checkout", nil, err.Error())
	}
	return nil
}

// Dir returns the working directory.
func (r *Repo) Dir() string { return r.dir }

// CheckoutCommit returns the checkout branch's commit (hex), which Flux
// records as status.observedSourceRevision when the push branch differs.
func (r *Repo) CheckoutCommit() string { return r.checkout }

// CheckoutRevision returns the checkout commit as a Flux revision,
// "<branch>@sha1:<hex>".
func (r *Repo) CheckoutRevision() string { return source.GitRevision(r.opts.Branch, r.checkout) }

// Signature names a commit's author.
type Signature struct {
	Name, Email string
}

// CommitOptions describes the commit.
type CommitOptions struct {
	// Author is the author and committer (spec.git.commit.author).
	Author Signature
	// Message is the commit message (update.CommitMessage renders it).
	Message string
	// When is the commit time; zero means now.
	When time.Time
	// SignKey signs the commit with OpenPGP (GPGSignKey reads one).
	SignKey *openpgp.Entity
	// Signer signs the commit otherwise, e.g. SSHSigner; it takes
	// precedence over SignKey.
	Signer gogit.Signer
}

// PushOptions describes the push.
type PushOptions struct {
	// Refspec is an extra refspec pushed after the branch
	// (spec.git.push.refspec), e.g. "refs/heads/main:refs/heads/auto" or
	// "HEAD:refs/for/main".
	Refspec string
	// Options are push options sent to the server (spec.git.push.options).
	Options map[string]string
}

// Result is a pushed commit.
type Result struct {
	// Commit is the new commit's hash (hex), status.lastPushCommit.
	Commit string
	// Branch is the branch pushed.
	Branch string
	// Revision is "<branch>@sha1:<hex>".
	Revision string
	// Message is the commit message.
	Message string
	// Time is when it was pushed, status.lastPushTime.
	Time time.Time
	// Refspecs are the refspecs pushed besides the branch.
	Refspecs []string
	// SwitchBranch reports whether the push branch differs from the
	// checkout branch.
	SwitchBranch bool
}

// CommitAndPush stages every change in the working tree, commits it and
// pushes the push branch (forced when it differs from the checkout
// branch), then the extra refspec. Without changes it returns ErrNoChanges
// and pushes nothing.
func (r *Repo) CommitAndPush(ctx context.Context, c CommitOptions, p PushOptions) (Result, error) {
	if c.Author.Name == "" || c.Author.Email == "" {
		return Result{}, r.fail("commit", source.ErrInvalid, "the commit author's name and email must be set")
	}
	wt, err := r.repo.Worktree()
	if err != nil {
		return Result{}, r.fail("commit", nil, err.Error())
	}
	if err := wt.AddWithOptions(&gogit.AddOptions{All: true}); err != nil {
		return Result{}, r.fail("commit", nil, err.Error())
	}
	status, err := wt.Status()
	if err != nil {
		return Result{}, r.fail("commit", nil, err.Error())
	}
	if status.IsClean() {
		return Result{}, ErrNoChanges
	}
	when := c.When
	if when.IsZero() {
		when = time.Now()
	}
	sig := &object.Signature{Name: c.Author.Name, Email: c.Author.Email, When: when}
	hash, err := wt.Commit(c.Message, &gogit.CommitOptions{Author: sig, Committer: sig, SignKey: c.SignKey, Signer: c.Signer})
	if err != nil {
		return Result{}, r.fail("commit", nil, err.Error())
	}
	branch := plumbing.NewBranchReferenceName(r.opts.PushBranch)
	refspecs := []config.RefSpec{config.RefSpec(branch.String() + ":" + branch.String())}
	if err := r.push(ctx, refspecs, r.switchPush, p.Options); err != nil {
		return Result{}, err
	}
	res := Result{
		Commit:       hash.String(),
		Branch:       r.opts.PushBranch,
		Revision:     source.GitRevision(r.opts.PushBranch, hash.String()),
		Message:      c.Message,
		SwitchBranch: r.switchPush,
	}
	if p.Refspec != "" {
		rs := config.RefSpec(p.Refspec)
		if err := rs.Validate(); err != nil {
			return Result{}, r.fail("push", source.ErrInvalid, fmt.Sprintf("refspec %q is invalid: %v", p.Refspec, err))
		}
		if err := r.push(ctx, []config.RefSpec{rs}, r.switchPush, p.Options); err != nil {
			return Result{}, err
		}
		res.Refspecs = []string{p.Refspec}
	}
	res.Time = time.Now()
	logr.FromContextOrDiscard(ctx).V(1).Info("pushed", "branch", r.opts.PushBranch, "commit", res.Commit)
	return res, nil
}

func (r *Repo) push(ctx context.Context, refspecs []config.RefSpec, force bool, options map[string]string) error {
	err := r.repo.PushContext(ctx, &gogit.PushOptions{
		RemoteName:   "origin",
		RefSpecs:     refspecs,
		Auth:         r.opts.Auth,
		CABundle:     r.opts.CABundle,
		ProxyOptions: r.opts.Proxy,
		Force:        force,
		Options:      options,
	})
	if err != nil && !errors.Is(err, gogit.NoErrAlreadyUpToDate) {
		return r.classify(ctx, "push", err)
	}
	return nil
}

func (r *Repo) fail(op string, kind error, detail string) error {
	return source.NewError("git", op, r.cleanURL, r.red, kind, detail)
}

func (r *Repo) classify(ctx context.Context, op string, err error) error {
	var kind error
	var netErr net.Error
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		kind = source.ErrAuth
	case errors.Is(err, transport.ErrRepositoryNotFound):
		kind = source.ErrNotFound
	case errors.Is(err, plumbing.ErrReferenceNotFound), errors.Is(err, gogit.ErrBranchNotFound):
		kind = source.ErrRefNotFound
	case op == "push" && (strings.Contains(err.Error(), "non-fast-forward") || strings.Contains(err.Error(), "rejected")):
		kind = ErrRejected
	case errors.As(err, &netErr), errors.Is(err, io.ErrUnexpectedEOF), ctx.Err() != nil:
		kind = source.ErrNetwork
	}
	e := source.NewError("git", op, r.cleanURL, r.red, kind, err.Error())
	if ctx.Err() != nil {
		e.Cause = ctx.Err()
	}
	return e
}

// GPGSignKey reads an armored OpenPGP private key (the "git.asc" of Flux's
// signing Secret), decrypting it with passphrase when it is encrypted.
func GPGSignKey(armored []byte, passphrase string) (*openpgp.Entity, error) {
	list, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil {
		return nil, fmt.Errorf("OpenPGP signing key does not parse: %w", err)
	}
	if len(list) != 1 {
		return nil, fmt.Errorf("OpenPGP signing key ring holds %d keys, want 1", len(list))
	}
	e := list[0]
	if e.PrivateKey == nil {
		return nil, errors.New("OpenPGP signing key holds no private key")
	}
	if e.PrivateKey.Encrypted {
		if passphrase == "" {
			return nil, errors.New("OpenPGP signing key is encrypted and no passphrase was given")
		}
		if err := e.DecryptPrivateKeys([]byte(passphrase)); err != nil {
			return nil, errors.New("OpenPGP signing key does not decrypt with the passphrase")
		}
	}
	return e, nil
}

// SSHSigner returns a commit signer for an OpenSSH private key (PEM),
// decrypted with passphrase when it is encrypted: it writes SSHSIG
// signatures in the "git" namespace with SHA-512, as ssh-keygen -Y sign
// does for git.
func SSHSigner(privateKey []byte, passphrase string) (gogit.Signer, error) {
	var s ssh.Signer
	var err error
	if passphrase != "" {
		s, err = ssh.ParsePrivateKeyWithPassphrase(privateKey, []byte(passphrase))
	} else {
		s, err = ssh.ParsePrivateKey(privateKey)
	}
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, errors.New("SSH signing key is encrypted and no passphrase was given")
		}
		return nil, errors.New("SSH signing key does not parse (or the passphrase is wrong)")
	}
	return sshSigner{s}, nil
}

type sshSigner struct{ s ssh.Signer }

// Sign implements go-git's Signer.
func (s sshSigner) Sign(message io.Reader) ([]byte, error) {
	sig, err := sshsig.Sign(message, s.s, sshsig.HashSHA512, "git")
	if err != nil {
		return nil, fmt.Errorf("SSH signing failed: %w", err)
	}
	return sshsig.Armor(sig), nil
}
