package git

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/gitopskit/gitopskit/source"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/go-logr/logr"
)

// DefaultBranch is the branch Flux's GitRepository checks out when its
// spec.ref is empty. A zero Reference does not default to it (see
// Reference): set Branch to DefaultBranch for Flux's behaviour.
const DefaultBranch = "master"

// maxSubmoduleDepth bounds nested submodule recursion.
const maxSubmoduleDepth = 8

// Reference selects what to check out. When several fields are set the
// precedence is Flux's (as its Git client implements it): Commit, then
// Name, then Tag, then SemVer, then Branch. Branch also scopes Commit: the
// commit must then be reachable from the branch, and the revision is named
// after the branch.
//
// The zero Reference is a configuration error (source.ErrInvalid) that asks
// for a branch, rather than a guess: Flux defaults to branch "master",
// while most repositories made today, and those of gittest, start on
// "main". Name the branch, or use Branch: DefaultBranch where Flux's
// default is wanted (as a controller serving Flux's GitRepository does for
// an empty spec.ref).
type Reference struct {
	// Branch is a branch name such as "main".
	Branch string
	// Tag is a tag name such as "v1.0.0".
	Tag string
	// SemVer is a version range over the tags; the highest match wins.
	SemVer string
	// Name is a full reference name such as "refs/pull/1/head".
	Name string
	// Commit is a full 40-hex-digit commit SHA-1.
	Commit string
}

// Include places a subtree of another snapshot into the checked-out tree.
type Include = source.Include

// Repository is a Git source: configure it, then call Fetch. It implements
// source.Fetcher. The zero value of every optional field is the safe
// default: anonymous access, TLS verified against the system roots, no
// verification, no submodules, the whole tree.
type Repository struct {
	// URL is the repository address: http(s)://, ssh:// or SCP-like
	// user@host:path. Userinfo in an HTTP(S) URL is used as basic auth
	// when Auth has no username, and never shown in errors.
	URL string
	// Ref selects the commit; see Reference for precedence.
	Ref Reference
	// Auth holds credentials; nil means anonymous.
	Auth *Auth
	// Proxy routes traffic through an HTTP or SOCKS5 proxy; nil means a
	// direct connection.
	Proxy *Proxy
	// Verify enables signature verification; nil disables it.
	Verify *Verification
	// RecurseSubmodules checks out submodules (recursively), with the same
	// credentials when they live on the same host.
	RecurseSubmodules bool
	// SubmodulesSameHost refuses, before anything is fetched, submodules
	// whose URL is not on the parent repository's host: the same scheme
	// family (http/https, or ssh including SCP-like addresses), the same
	// host name and port (http://h and https://h count as the same port),
	// and never https downgraded to http. Relative URLs ("../lib.git") resolve against the
	// parent and pass. The refusal wraps ErrSubmoduleHost. The zero value
	// (false) lets a submodule point at any host, including internal ones
	// over plain http, as Git and Flux do; a multi-tenant controller whose
	// tenants can push to the repositories it watches should set it.
	SubmodulesSameHost bool
	// SparseCheckout lists directories (slash-separated, relative to the
	// root) to check out; empty means everything. Each must exist.
	SparseCheckout []string
	// Include lists subtrees of other snapshots to copy into the tree after
	// checkout. Includes do not change the revision.
	Include []Include
}

var _ source.Fetcher = (*Repository)(nil)

// target is a resolved checkout plan.
type target struct {
	kind    string                 // "commit", "name", "tag", "semver", "branch"
	ref     plumbing.ReferenceName // full reference to fetch (empty for a bare commit)
	display string                 // name used in the revision
	commit  string                 // wanted commit, for kind "commit"
}

func (r *Repository) plan() (target, error) {
	ref := r.Ref
	switch {
	case ref.Commit != "":
		c := strings.ToLower(ref.Commit)
		if !isSHA1(c) {
			return target{}, invalidf("commit %q is not a full 40-hex-digit SHA-1", ref.Commit)
		}
		t := target{kind: "commit", commit: c}
		if ref.Branch != "" {
			name, err := checkRefName("branch", ref.Branch, plumbing.NewBranchReferenceName(ref.Branch))
			if err != nil {
				return target{}, err
			}
			t.ref, t.display = name, ref.Branch
		}
		return t, nil
	case ref.Name != "":
		if !strings.HasPrefix(ref.Name, "refs/") {
			return target{}, invalidf("reference name %q must start with refs/", ref.Name)
		}
		name, err := checkRefName("reference name", ref.Name, plumbing.ReferenceName(ref.Name))
		if err != nil {
			return target{}, err
		}
		// As in Flux, a named reference keeps its full name in the
		// revision, even for refs/heads/ and refs/tags/.
		return target{kind: "name", ref: name, display: ref.Name}, nil
	case ref.Tag != "":
		name, err := checkRefName("tag", ref.Tag, plumbing.NewTagReferenceName(ref.Tag))
		if err != nil {
			return target{}, err
		}
		return target{kind: "tag", ref: name, display: ref.Tag}, nil
	case ref.SemVer != "":
		if _, err := parseConstraint(ref.SemVer); err != nil {
			return target{}, err
		}
		return target{kind: "semver"}, nil
	case ref.Branch != "":
		name, err := checkRefName("branch", ref.Branch, plumbing.NewBranchReferenceName(ref.Branch))
		if err != nil {
			return target{}, err
		}
		return target{kind: "branch", ref: name, display: ref.Branch}, nil
	default:
		return target{}, invalidf("no reference to check out: name a Branch, Tag, SemVer, Name or Commit "+
			"(for Flux's default, branch %q, set Branch: git.DefaultBranch)", DefaultBranch)
	}
}

func isSHA1(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// checkRefName validates a full reference name with go-git's rules (those
// of git check-ref-format, and no branch or tag starting with "-"), so
// that a name git would refuse never reaches a refspec. what and given
// name the field for the error.
func checkRefName(what, given string, name plumbing.ReferenceName) (plumbing.ReferenceName, error) {
	if err := name.Validate(); err != nil {
		return "", invalidf("%s %q is not a valid Git reference name", what, given)
	}
	return name, nil
}

// conn carries everything go-git needs to talk to the server.
type conn struct {
	ep    endpoint
	auth  transport.AuthMethod
	ca    []byte
	cert  []byte
	key   []byte
	proxy transport.ProxyOptions
	// red masks every credential this connection may send.
	red *source.Redactor
}

func (r *Repository) connect() (*conn, error) {
	ep, err := parseEndpoint(r.URL)
	if err != nil {
		return nil, err
	}
	red := newRedactor(r.URL, ep, r.Auth, r.Proxy)
	am, err := r.Auth.transportAuth(ep)
	if err != nil {
		return nil, err
	}
	c := &conn{ep: ep, auth: am, red: red}
	if r.Auth != nil {
		c.ca, c.cert, c.key = r.Auth.CAFile, r.Auth.CertFile, r.Auth.KeyFile
		if (c.cert == nil) != (c.key == nil) {
			return nil, invalidf("a client certificate needs both CertFile and KeyFile")
		}
	}
	if r.Proxy != nil {
		u, err := url.Parse(r.Proxy.URL)
		if err != nil || u.Host == "" {
			return nil, invalidf("the proxy URL is not a URL with a host")
		}
		c.proxy = transport.ProxyOptions{URL: r.Proxy.URL, Username: r.Proxy.Username, Password: r.Proxy.Password}
	}
	return c, nil
}

// lsRemote lists the server's references, peeled tags included (their
// names end in "^{}").
func (c *conn) lsRemote(ctx context.Context) (map[plumbing.ReferenceName]string, error) {
	rem := gogit.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{c.ep.Clean}})
	refs, err := rem.ListContext(ctx, &gogit.ListOptions{
		Auth: c.auth, CABundle: c.ca, ClientCert: c.cert, ClientKey: c.key,
		ProxyOptions: c.proxy, PeelingOption: gogit.AppendPeeled,
	})
	if err != nil {
		return nil, classify(ctx, "ls-remote", c.ep.Clean, err, c.red)
	}
	out := make(map[plumbing.ReferenceName]string, len(refs))
	for _, ref := range refs {
		if ref.Type() == plumbing.HashReference {
			out[ref.Name()] = ref.Hash().String()
		}
	}
	return out, nil
}

// resolveRemote finds the commit the target points to at the server, and
// settles a semver target on its tag.
func (c *conn) resolveRemote(ctx context.Context, t *target, semverRange string) (string, error) {
	refs, err := c.lsRemote(ctx)
	if err != nil {
		return "", err
	}
	if t.kind == "semver" {
		var tags []string
		for name := range refs {
			if name.IsTag() && !strings.HasSuffix(string(name), "^{}") {
				tags = append(tags, name.Short())
			}
		}
		tag, ok, err := SelectSemVer(semverRange, tags)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", newError("ls-remote", c.ep.Clean, c.red, source.ErrRefNotFound, "no tag matches semver range %q", semverRange)
		}
		t.ref, t.display = plumbing.NewTagReferenceName(tag), tag
	}
	if h, ok := refs[t.ref+"^{}"]; ok {
		return h, nil
	}
	if h, ok := refs[t.ref]; ok {
		return h, nil
	}
	return "", newError("ls-remote", c.ep.Clean, c.red, source.ErrRefNotFound, "%s not found", t.ref)
}

// Resolve returns the current revision of a branch, tag, semver or named
// reference with one ls-remote round trip, without downloading objects. For
// a commit reference it returns the revision the commit would have.
func (r *Repository) Resolve(ctx context.Context) (string, error) {
	if _, err := parseEndpoint(r.URL); err != nil {
		return "", r.asInvalid("resolve", err)
	}
	t, err := r.plan()
	if err != nil {
		return "", r.asInvalid("resolve", err)
	}
	if t.kind == "commit" {
		return source.GitRevision(t.display, t.commit), nil
	}
	c, err := r.connect()
	if err != nil {
		return "", r.asInvalid("resolve", err)
	}
	h, err := c.resolveRemote(ctx, &t, r.Ref.SemVer)
	if err != nil {
		return "", err
	}
	return source.GitRevision(t.display, h), nil
}

// Fetch checks out the configured reference into dir (created if absent;
// it must be empty) and returns the snapshot: its revision in Flux's
// format and the commit's metadata. When last is the revision the
// reference still points to (branch, tag, semver and name references),
// Fetch answers from a single ls-remote round trip and returns the current
// snapshot revision with source.ErrUnchanged, writing nothing. On other
// errors dir may hold a partial tree; callers use a temporary directory.
func (r *Repository) Fetch(ctx context.Context, dir, last string) (source.Snapshot, error) {
	return r.fetch(ctx, dir, last, 0)
}

func (r *Repository) fetch(ctx context.Context, dir, last string, depth int) (source.Snapshot, error) {
	log := logr.FromContextOrDiscard(ctx)
	start := time.Now()
	t, ver, sparse, c, err := r.prepare()
	if err != nil {
		return source.Snapshot{}, r.asInvalid("fetch", err)
	}

	// One ls-remote settles semver tags and answers the no-op check.
	if t.kind == "semver" || (last != "" && t.kind != "commit") {
		h, err := c.resolveRemote(ctx, &t, r.Ref.SemVer)
		if err != nil {
			return source.Snapshot{}, err
		}
		rev := source.GitRevision(t.display, h)
		if last != "" && source.RevisionsEqual(last, rev) {
			log.V(1).Info("git reference unchanged", "revision", rev, "duration", time.Since(start))
			return source.Snapshot{Revision: rev}, source.ErrUnchanged
		}
	}

	if err := prepareDir(dir); err != nil {
		return source.Snapshot{}, r.asInvalid("fetch", err)
	}
	repo, commit, tag, err := c.fetchObjects(ctx, t)
	if err != nil {
		return source.Snapshot{}, err
	}
	snap := source.Snapshot{Revision: source.GitRevision(t.display, commit.Hash.String()), Commit: commitInfo(commit, t)}
	if ver != nil {
		if ver.mode == VerifyTag || ver.mode == VerifyTagAndHEAD {
			if tag == nil {
				return source.Snapshot{}, newError("verify", c.ep.Clean, c.red, source.ErrVerification,
					"tag %q is a lightweight tag and cannot carry a signature; expected a signature by one of: %s", t.display, ver.expected())
			}
			by, err := ver.verifyTag(tag)
			if err != nil {
				return source.Snapshot{}, newError("verify", c.ep.Clean, c.red, source.ErrVerification, "%s", err)
			}
			snap.Commit.TagVerifiedBy = by
		}
		if ver.mode == VerifyHEAD || ver.mode == VerifyTagAndHEAD {
			by, err := ver.verifyCommit(commit)
			if err != nil {
				return source.Snapshot{}, newError("verify", c.ep.Clean, c.red, source.ErrVerification, "%s", err)
			}
			snap.Commit.VerifiedBy = by
		}
	}
	tree, err := commit.Tree()
	if err != nil {
		return source.Snapshot{}, classify(ctx, "checkout", c.ep.Clean, err, c.red)
	}
	links, err := writeTree(ctx, repo.Storer, tree, dir, sparse)
	if err != nil {
		return source.Snapshot{}, fmt.Errorf("git checkout of %s: %w", snap.Revision, err)
	}
	if r.RecurseSubmodules && len(links) > 0 {
		if depth >= maxSubmoduleDepth {
			return source.Snapshot{}, fmt.Errorf("git submodules nested deeper than %d levels", maxSubmoduleDepth)
		}
		if err := r.checkoutSubmodules(ctx, c, tree, dir, links, depth); err != nil {
			return source.Snapshot{}, err
		}
	}
	if err := source.ApplyIncludes(ctx, dir, r.Include); err != nil {
		return source.Snapshot{}, r.asInvalid("include", err)
	}
	log.V(1).Info("git fetched", "revision", snap.Revision, "duration", time.Since(start))
	return snap, nil
}

// prepare checks the whole configuration before anything is fetched: the
// URL, the reference, the verification keys, the sparse checkout
// directories and the credentials. Its errors wrap source.ErrInvalid.
func (r *Repository) prepare() (target, *verifier, []string, *conn, error) {
	if _, err := parseEndpoint(r.URL); err != nil {
		return target{}, nil, nil, nil, err
	}
	t, err := r.plan()
	if err != nil {
		return target{}, nil, nil, nil, err
	}
	ver, err := r.Verify.compile()
	if err != nil {
		return target{}, nil, nil, nil, err
	}
	if ver != nil && ver.mode != VerifyHEAD && t.kind != "tag" && t.kind != "semver" && !(t.kind == "name" && t.ref.IsTag()) {
		return target{}, nil, nil, nil, invalidf("verification mode %s needs a tag or semver reference", ver.mode)
	}
	sparse, err := cleanSparse(r.SparseCheckout)
	if err != nil {
		return target{}, nil, nil, nil, err
	}
	c, err := r.connect()
	if err != nil {
		return target{}, nil, nil, nil, err
	}
	return t, ver, sparse, c, nil
}

// fetchObjects downloads what the target needs into memory and returns the
// commit to check out and, for tag references, the annotated tag object.
func (c *conn) fetchObjects(ctx context.Context, t target) (*gogit.Repository, *object.Commit, *object.Tag, error) {
	repo, err := gogit.Init(memory.NewStorage(), nil)
	if err != nil {
		return nil, nil, nil, err
	}
	rem, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{c.ep.Clean}})
	if err != nil {
		return nil, nil, nil, err
	}
	fetch := func(depth int, specs ...config.RefSpec) error {
		err := rem.FetchContext(ctx, &gogit.FetchOptions{
			RemoteName: "origin", RefSpecs: specs, Depth: depth, Tags: gogit.NoTags,
			Auth: c.auth, CABundle: c.ca, ClientCert: c.cert, ClientKey: c.key, ProxyOptions: c.proxy,
		})
		if errors.Is(err, gogit.NoErrAlreadyUpToDate) {
			return nil
		}
		return err
	}
	var want plumbing.Hash
	switch {
	case t.kind == "commit" && t.ref != "":
		// The commit must be reachable from the branch: fetch its history.
		if err := fetch(0, config.RefSpec("+"+t.ref+":"+t.ref)); err != nil {
			return nil, nil, nil, classify(ctx, "fetch", c.ep.Clean, err, c.red)
		}
		want = plumbing.NewHash(t.commit)
		head, err := repo.Storer.Reference(t.ref)
		if err != nil {
			return nil, nil, nil, classify(ctx, "fetch", c.ep.Clean, err, c.red)
		}
		if !reachable(repo, head.Hash(), want) {
			return nil, nil, nil, newError("fetch", c.ep.Clean, c.red, source.ErrRefNotFound, "commit %s is not in branch %q", t.commit, t.display)
		}
	case t.kind == "commit":
		want = plumbing.NewHash(t.commit)
		local := plumbing.ReferenceName("refs/gitopskit/want")
		if err := fetch(1, config.RefSpec(t.commit+":"+local.String())); err != nil {
			if ctx.Err() != nil {
				return nil, nil, nil, classify(ctx, "fetch", c.ep.Clean, err, c.red)
			}
			// The server may refuse to serve a commit by hash: fall back
			// to every branch and tag with full history.
			if err2 := fetch(0, "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"); err2 != nil {
				return nil, nil, nil, classify(ctx, "fetch", c.ep.Clean, err2, c.red)
			}
		}
	default:
		if err := fetch(1, config.RefSpec("+"+t.ref+":"+t.ref)); err != nil {
			return nil, nil, nil, classify(ctx, "fetch", c.ep.Clean, err, c.red)
		}
		ref, err := repo.Storer.Reference(t.ref)
		if err != nil {
			return nil, nil, nil, newError("fetch", c.ep.Clean, c.red, source.ErrRefNotFound, "%s not found", t.ref)
		}
		want = ref.Hash()
	}
	var tag *object.Tag
	if tg, err := repo.TagObject(want); err == nil {
		tag = tg
		commit, err := tg.Commit()
		if err != nil {
			return nil, nil, nil, newError("fetch", c.ep.Clean, c.red, source.ErrRefNotFound, "tag %q does not point to a commit", t.display)
		}
		return repo, commit, tag, nil
	}
	commit, err := repo.CommitObject(want)
	if err != nil {
		return nil, nil, nil, newError("fetch", c.ep.Clean, c.red, source.ErrRefNotFound, "commit %s not found", want)
	}
	return repo, commit, nil, nil
}

// reachable reports whether want is head or one of its ancestors.
func reachable(repo *gogit.Repository, head, want plumbing.Hash) bool {
	if head == want {
		return true
	}
	iter, err := repo.Log(&gogit.LogOptions{From: head})
	if err != nil {
		return false
	}
	defer iter.Close()
	found := false
	_ = iter.ForEach(func(c *object.Commit) error {
		if c.Hash == want {
			found = true
			return errStop
		}
		return nil
	})
	return found
}

var errStop = errors.New("stop")

func commitInfo(c *object.Commit, t target) *source.Commit {
	return &source.Commit{
		Hash:      c.Hash.String(),
		Reference: t.ref.String(),
		Author:    source.Signature{Name: c.Author.Name, Email: c.Author.Email, When: c.Author.When},
		Committer: source.Signature{Name: c.Committer.Name, Email: c.Committer.Email, When: c.Committer.When},
		Message:   c.Message,
		Signature: c.PGPSignature,
	}
}

// prepareDir creates dir or checks that it is empty; a dir that is not
// empty, or not named, is a configuration error.
func prepareDir(dir string) error {
	if dir == "" {
		return invalidf("the destination directory is not named")
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return invalidf("destination directory %q is not empty", dir)
	}
	return nil
}

// cleanSparse validates the sparse checkout directories.
func cleanSparse(dirs []string) ([]string, error) {
	var out []string
	for _, d := range dirs {
		c, err := source.CleanRelPath(strings.TrimPrefix(d, "./"))
		if err != nil {
			return nil, fmt.Errorf("sparse checkout directory: %w", err)
		}
		if c == "." {
			return nil, nil // the whole tree
		}
		out = append(out, path.Clean(c))
	}
	return out, nil
}
