package artifact

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// IgnoreFile is the name of the per-directory ignore file, in gitignore
// syntax, whose patterns apply to the directory it sits in and below.
const IgnoreFile = ".sourceignore"

// Default exclusion patterns, the same lists Flux applies. The VCS patterns
// always apply; the others apply only when no `.sourceignore` file and no
// extra patterns were given.
const (
	// ExcludeVCS lists version-control metadata that never enters an artifact.
	ExcludeVCS = ".git/,.gitignore,.gitmodules,.gitattributes"
	// ExcludeExt lists binary and archive file types.
	ExcludeExt = "*.jpg,*.jpeg,*.gif,*.png,*.wmv,*.flv,*.tar.gz,*.zip"
	// ExcludeCI lists CI system configuration.
	ExcludeCI = ".github/,.circleci/,.travis.yml,.gitlab-ci.yml,appveyor.yml,.drone.yml,cloudbuild.yaml,codeship-services.yml,codeship-steps.yml"
	// ExcludeExtra lists tool configuration files found anywhere in a tree.
	ExcludeExtra = "**/.goreleaser.yml,**/.sops.yaml,**/.flux.yaml"
)

// maxIgnoreFileSize caps how much of one ignore file is read.
const maxIgnoreFileSize = 1 << 20

// Filter decides whether an entry is left out of an artifact. rel is the
// slash-separated path relative to the packed directory; isDir tells whether
// it names a directory. Returning true excludes the entry (and, for a
// directory, everything below it).
//
// A Filter is also an ignore matcher in its own right (see Match), so it
// can be handed as is to a consumer that takes a
// `Match(rel string, isDir bool) bool` interface, such as
// kustomize.Options.Ignore.
type Filter func(rel string, isDir bool) bool

// Match reports whether f excludes rel; a nil Filter excludes nothing.
func (f Filter) Match(rel string, isDir bool) bool {
	if f == nil {
		return false
	}
	return f(rel, isDir)
}

// Ignore is a compiled set of gitignore-style patterns.
type Ignore struct {
	patterns []gitignore.Pattern
	matcher  gitignore.Matcher
}

// ParseIgnore compiles patterns in gitignore syntax (one per line; blank
// lines and lines starting with # are skipped). domain is the
// slash-separated directory, relative to the packed root, the patterns are
// scoped to; "" means the root.
func ParseIgnore(patterns string, domain string) (*Ignore, error) {
	ps, err := readPatterns(strings.NewReader(patterns), splitDomain(domain))
	if err != nil {
		return nil, err
	}
	return newIgnore(ps), nil
}

func newIgnore(ps []gitignore.Pattern) *Ignore {
	return &Ignore{patterns: ps, matcher: gitignore.NewMatcher(ps)}
}

// Match reports whether rel (slash-separated, relative to the root) is
// excluded by the patterns.
func (ig *Ignore) Match(rel string, isDir bool) (matched bool) {
	if ig == nil || len(ig.patterns) == 0 {
		return false
	}
	defer func() {
		if r := recover(); r != nil {
			matched = false
		}
	}()
	return ig.matcher.Match(strings.Split(rel, "/"), isDir)
}

// Filter returns the patterns as a Filter.
func (ig *Ignore) Filter() Filter { return ig.Match }

// Len returns the number of compiled patterns.
func (ig *Ignore) Len() int {
	if ig == nil {
		return 0
	}
	return len(ig.patterns)
}

// NewIgnoreFilter returns the exclusion rules Flux applies when archiving
// the directory dir: the VCS patterns, the patterns of every `.sourceignore`
// file in the tree (scoped to its directory) and the patterns in extra, a
// block in gitignore syntax scoped to the root (a GitRepository's
// spec.ignore; "" adds none). When neither `.sourceignore` files nor extra
// contribute a pattern, the default extension, CI and tool patterns apply
// too.
func NewIgnoreFilter(dir string, extra string) (Filter, error) {
	ps, err := LoadIgnoreFiles(dir)
	if err != nil {
		return nil, err
	}
	more, err := readPatterns(strings.NewReader(extra), nil)
	if err != nil {
		return nil, fmt.Errorf("extra ignore patterns: %w", err)
	}
	ps = append(ps, more...)
	all, err := splitPatterns(ExcludeVCS)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		defaults, err := splitPatterns(ExcludeExt + "," + ExcludeCI + "," + ExcludeExtra)
		if err != nil {
			return nil, err
		}
		all = append(all, defaults...)
	}
	all = append(all, ps...)
	return newIgnore(all).Match, nil
}

// LoadIgnoreFiles reads every `.sourceignore` file under dir (not following
// symbolic links and not descending into .git) and returns their patterns,
// each scoped to the directory holding its file. Each file is read up to
// 1 MiB.
func LoadIgnoreFiles(dir string) ([]gitignore.Pattern, error) {
	var ps []gitignore.Pattern
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" && p != dir {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != IgnoreFile || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, filepath.Dir(p))
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		more, err := readPatterns(io.LimitReader(f, maxIgnoreFileSize), splitDomain(filepath.ToSlash(rel)))
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.ToSlash(filepath.Join(rel, IgnoreFile)), err)
		}
		ps = append(ps, more...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading %s files: %w", IgnoreFile, err)
	}
	return ps, nil
}

func splitDomain(domain string) []string {
	domain = strings.Trim(domain, "/")
	if domain == "" || domain == "." {
		return nil
	}
	return strings.Split(domain, "/")
}

func splitPatterns(list string) ([]gitignore.Pattern, error) {
	return readPatterns(strings.NewReader(strings.ReplaceAll(list, ",", "\n")), nil)
}

func readPatterns(r io.Reader, domain []string) (ps []gitignore.Pattern, err error) {
	defer func() {
		if rec := recover(); rec != nil {
			ps, err = nil, fmt.Errorf("invalid ignore pattern: %v", rec)
		}
	}()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxIgnoreFileSize)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, domain))
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, errors.New("ignore pattern line longer than 1 MiB")
		}
		return nil, err
	}
	return ps, nil
}
