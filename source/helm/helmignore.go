package helm

import (
	"path"
	"strings"
)

// helmIgnore holds the rules of a .helmignore file, with Helm's
// semantics, which are not gitignore's: a pattern without "/" matches the
// base name at any depth, one with a leading "/" or an inner "/" matches
// the whole path from the chart's root (shell globs, no "**"), a trailing
// "/" matches directories only, and a rule "!p" ignores everything p does
// not match. Rules are tried in order; the first that decides wins.
type helmIgnore struct {
	rules []ignoreRule
}

type ignoreRule struct {
	pattern string
	negate  bool
	mustDir bool
	base    bool // match the base name only
}

// parseHelmIgnore parses a .helmignore file's content, then adds Helm's
// default rule, "templates/.?*".
func parseHelmIgnore(content string) (*helmIgnore, error) {
	ig := &helmIgnore{}
	for _, line := range strings.Split(content, "\n") {
		if err := ig.add(line); err != nil {
			return nil, err
		}
	}
	if err := ig.add("templates/.?*"); err != nil {
		return nil, err
	}
	return ig, nil
}

func (ig *helmIgnore) add(line string) error {
	rule := strings.TrimSpace(line)
	if rule == "" || strings.HasPrefix(rule, "#") {
		return nil
	}
	if strings.Contains(rule, "**") {
		return errorf(ErrInvalidChart, ".helmignore rule %q: ** is not supported", rule)
	}
	if _, err := path.Match(rule, "abc"); err != nil {
		return errorf(ErrInvalidChart, ".helmignore rule %q: %v", rule, err)
	}
	r := ignoreRule{}
	if rest, ok := strings.CutPrefix(rule, "!"); ok {
		r.negate, rule = true, rest
	}
	if rest, ok := strings.CutSuffix(rule, "/"); ok {
		r.mustDir, rule = true, rest
	}
	switch {
	case strings.HasPrefix(rule, "/"):
		rule = strings.TrimPrefix(rule, "/")
	case strings.Contains(rule, "/"):
	default:
		r.base = true
	}
	r.pattern = rule
	ig.rules = append(ig.rules, r)
	return nil
}

// ignored reports whether the chart path rel (slash-separated, from the
// chart's root) is left out.
func (ig *helmIgnore) ignored(rel string, isDir bool) bool {
	if rel == "" || rel == "." {
		return false
	}
	for _, r := range ig.rules {
		name := rel
		if r.base {
			name = path.Base(rel)
		}
		ok, _ := path.Match(r.pattern, name)
		if r.negate {
			if r.mustDir && !isDir {
				return true
			}
			if !ok {
				return true
			}
			continue
		}
		if r.mustDir && !isDir {
			continue
		}
		if ok {
			return true
		}
	}
	return false
}
