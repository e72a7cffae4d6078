package git

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gitopskit/gitopskit/source"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// gitlink is a submodule entry found while writing a tree.
type gitlink struct {
	path string // slash-separated, relative to the root
	hash plumbing.Hash
}

// fileJob is one regular file or symbolic link to write.
type fileJob struct {
	dst  string
	hash plumbing.Hash
	mode filemode.FileMode
}

// writeTree writes tree into dir, limited to the sparse directories when
// given, and returns the submodule entries it met. Directories are made
// first; files are written by a few workers in parallel.
func writeTree(ctx context.Context, st storer.EncodedObjectStorer, tree *object.Tree, dir string, sparse []string) ([]gitlink, error) {
	var (
		jobs  []fileJob
		links []gitlink
		seen  = make(map[string]bool, len(sparse))
	)
	var walk func(t *object.Tree, rel string) error
	walk = func(t *object.Tree, rel string) error {
		for _, e := range t.Entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !validEntryName(e.Name) {
				return fmt.Errorf("tree entry %q under %q is not a safe file name", e.Name, rel)
			}
			p := e.Name
			if rel != "" {
				p = rel + "/" + e.Name
			}
			isDir := e.Mode == filemode.Dir
			keep, descend := sparseMatch(sparse, p, isDir || e.Mode == filemode.Submodule)
			if !keep && !descend {
				continue
			}
			for _, s := range sparse {
				if p == s || strings.HasPrefix(p, s+"/") || strings.HasPrefix(s, p+"/") {
					seen[s] = seen[s] || p == s
				}
			}
			dst := filepath.Join(dir, filepath.FromSlash(p))
			switch e.Mode {
			case filemode.Dir:
				if err := os.MkdirAll(dst, 0o755); err != nil {
					return err
				}
				sub, err := object.GetTree(st, e.Hash)
				if err != nil {
					return fmt.Errorf("tree %s: %w", p, err)
				}
				if err := walk(sub, p); err != nil {
					return err
				}
			case filemode.Submodule:
				if !keep {
					continue
				}
				if err := os.MkdirAll(dst, 0o755); err != nil {
					return err
				}
				links = append(links, gitlink{path: p, hash: e.Hash})
			case filemode.Regular, filemode.Deprecated, filemode.Executable, filemode.Symlink:
				if keep {
					jobs = append(jobs, fileJob{dst: dst, hash: e.Hash, mode: e.Mode})
				}
			default:
				return fmt.Errorf("tree entry %q has unsupported mode %o", p, uint32(e.Mode))
			}
		}
		return nil
	}
	if err := walk(tree, ""); err != nil {
		return nil, err
	}
	for _, s := range sparse {
		if !seen[s] {
			return nil, fmt.Errorf("sparse checkout directory %q does not exist at this revision", s)
		}
	}
	return links, writeFiles(ctx, st, jobs)
}

// sparseMatch reports whether p is inside a sparse directory (keep) or is
// a directory on the way to one (descend).
func sparseMatch(sparse []string, p string, isDir bool) (keep, descend bool) {
	if len(sparse) == 0 {
		return true, true
	}
	for _, s := range sparse {
		if p == s || strings.HasPrefix(p, s+"/") {
			return true, true
		}
		if isDir && strings.HasPrefix(s, p+"/") {
			descend = true
		}
	}
	return false, descend
}

// validEntryName rejects names that would escape or confuse the tree.
func validEntryName(n string) bool {
	if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\\\x00") {
		return false
	}
	return !strings.EqualFold(n, ".git")
}

const writeWorkers = 4

func writeFiles(ctx context.Context, st storer.EncodedObjectStorer, jobs []fileJob) error {
	if len(jobs) == 0 {
		return nil
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan fileJob)
	)
	workers := min(writeWorkers, len(jobs))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			for j := range next {
				if err := writeFile(st, j, buf); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		next <- j
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func writeFile(st storer.EncodedObjectStorer, j fileJob, buf []byte) error {
	obj, err := st.EncodedObject(plumbing.BlobObject, j.hash)
	if err != nil {
		return fmt.Errorf("blob %s: %w", j.hash, err)
	}
	r, err := obj.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	if j.mode == filemode.Symlink {
		target, err := io.ReadAll(io.LimitReader(r, 4096))
		if err != nil {
			return err
		}
		return os.Symlink(string(target), j.dst)
	}
	perm := os.FileMode(0o644)
	if j.mode == filemode.Executable {
		perm = 0o755
	}
	f, err := os.OpenFile(j.dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.CopyBuffer(f, r, buf); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ErrSubmoduleHost reports a submodule refused by
// Repository.SubmodulesSameHost because its URL is not on the parent
// repository's host.
var ErrSubmoduleHost = errors.New("submodule URL is not on the parent repository's host")

// submodule is a submodule entry with its resolved address.
type submodule struct {
	link gitlink
	url  string
	ep   endpoint
}

// parseGitmodules reads a .gitmodules file into a map from the cleaned
// submodule path to its URL. It never panics: the parser is third-party
// code and the content comes from the repository.
func parseGitmodules(content []byte) (_ map[string]string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("git submodules: .gitmodules does not parse (parser panicked)")
		}
	}()
	mods := config.NewModules()
	if err := mods.Unmarshal(content); err != nil {
		return nil, fmt.Errorf("git submodules: .gitmodules does not parse: %s", source.Redact(err.Error()))
	}
	byPath := make(map[string]string, len(mods.Submodules))
	for _, m := range mods.Submodules {
		if m == nil || m.Path == "" {
			continue
		}
		byPath[path.Clean(m.Path)] = m.URL
	}
	return byPath, nil
}

// checkoutSubmodules fetches every submodule at its recorded commit into
// its directory. Every address is resolved and checked before any is
// fetched.
func (r *Repository) checkoutSubmodules(ctx context.Context, c *conn, tree *object.Tree, dir string, links []gitlink, depth int) error {
	f, err := tree.File(".gitmodules")
	if err != nil {
		return errors.New("git submodules: the tree has submodule entries but no .gitmodules")
	}
	content, err := f.Contents()
	if err != nil {
		return err
	}
	byPath, err := parseGitmodules([]byte(content))
	if err != nil {
		return err
	}
	subs := make([]submodule, 0, len(links))
	for _, l := range links {
		raw, ok := byPath[l.path]
		if !ok {
			return fmt.Errorf("git submodule %q is not listed in .gitmodules", l.path)
		}
		subURL, err := resolveSubmoduleURL(c.ep.Clean, raw)
		if err != nil {
			return fmt.Errorf("git submodule %q: %w", l.path, err)
		}
		subEp, err := parseEndpoint(subURL)
		if err != nil {
			// Repository content, not configuration: no ErrInvalid.
			return fmt.Errorf("git submodule %q: %v", l.path, err)
		}
		if r.SubmodulesSameHost {
			if err := sameHost(c.ep, subEp); err != nil {
				return fmt.Errorf("git submodule %q: URL %s: %w", l.path, source.RedactURL(subURL), err)
			}
		}
		subs = append(subs, submodule{link: l, url: subURL, ep: subEp})
	}
	for _, s := range subs {
		sub := &Repository{
			URL:                s.url,
			Ref:                Reference{Commit: s.link.hash.String()},
			Proxy:              r.Proxy,
			RecurseSubmodules:  true,
			SubmodulesSameHost: r.SubmodulesSameHost,
		}
		if s.ep.Host == c.ep.Host && s.ep.Protocol == c.ep.Protocol {
			sub.Auth = r.Auth
		}
		if _, err := sub.fetch(ctx, filepath.Join(dir, filepath.FromSlash(s.link.path)), "", depth+1); err != nil {
			return fmt.Errorf("git submodule %q: %w", s.link.path, err)
		}
	}
	return nil
}

// sameHost returns nil when sub is on parent's host: the same scheme
// family, host name and port (or both on their scheme's default port), and
// no downgrade from https to http. The error wraps ErrSubmoduleHost and
// says which part differs.
func sameHost(parent, sub endpoint) error {
	pf, sf := schemeFamily(parent.Protocol), schemeFamily(sub.Protocol)
	if pf != sf {
		return fmt.Errorf("scheme %s is not in the parent's %s family: %w", sub.Protocol, parent.Protocol, ErrSubmoduleHost)
	}
	if parent.Protocol == "https" && sub.Protocol == "http" {
		return fmt.Errorf("plain http where the parent uses https: %w", ErrSubmoduleHost)
	}
	ph, pp := hostPort(parent)
	sh, sp := hostPort(sub)
	// http://h and https://h are the same host on their default ports.
	samePort := pp == sp || (pp == defaultPort(parent.Protocol) && sp == defaultPort(sub.Protocol))
	if ph != sh || !samePort {
		return fmt.Errorf("host %q is not the parent's host %q: %w",
			net.JoinHostPort(sh, sp), net.JoinHostPort(ph, pp), ErrSubmoduleHost)
	}
	return nil
}

func schemeFamily(protocol string) string {
	if protocol == "https" {
		return "http"
	}
	return protocol
}

// hostPort returns the endpoint's lower-case host name and its port, the
// scheme's default when none is given.
func hostPort(ep endpoint) (host, port string) {
	h := strings.ToLower(ep.Host)
	if host, port, err := net.SplitHostPort(h); err == nil {
		if port == "" {
			port = defaultPort(ep.Protocol)
		}
		return host, port
	}
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), defaultPort(ep.Protocol)
}

func defaultPort(protocol string) string {
	switch protocol {
	case "http":
		return "80"
	case "https":
		return "443"
	default:
		return "22"
	}
}

// resolveSubmoduleURL resolves a .gitmodules URL, which may be relative
// ("../lib", "./lib") to the parent repository's URL.
func resolveSubmoduleURL(parent, raw string) (string, error) {
	if !strings.HasPrefix(raw, "./") && !strings.HasPrefix(raw, "../") {
		if _, err := parseEndpoint(raw); err != nil {
			return "", err
		}
		return raw, nil
	}
	base, err := url.Parse(parent)
	if err != nil || base.Scheme == "" {
		return "", fmt.Errorf("relative submodule URL %q needs a parent URL with a scheme", source.RedactURL(raw))
	}
	base.Path = strings.TrimSuffix(base.Path, "/") + "/"
	ref, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("submodule URL %q does not parse", source.RedactURL(raw))
	}
	return base.ResolveReference(ref).String(), nil
}
