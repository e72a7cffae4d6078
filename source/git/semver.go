package git

import (
	"strings"

	"github.com/Masterminds/semver/v3"
)

// SelectSemVer returns the tag with the highest version that satisfies
// the constraint (Masterminds/semver syntax, for example ">=1.0.0 <2.0.0"
// or "1.2.x"). Tags that are not versions are ignored; a leading "v" is
// allowed. When two tags denote the same version ("v1.0.0" and "1.0.0")
// the lexically greater name wins, so the choice is deterministic. It
// returns false when no tag matches, and an *Error of kind
// source.ErrInvalid when the constraint does not parse.
func SelectSemVer(constraint string, tags []string) (string, bool, error) {
	c, err := parseConstraint(constraint)
	if err != nil {
		return "", false, invalidError("semver", nil, err)
	}
	var best *semver.Version
	bestTag := ""
	for _, tag := range tags {
		v, err := semver.NewVersion(tag)
		if err != nil {
			continue
		}
		if !c.Check(v) {
			continue
		}
		if best == nil || v.GreaterThan(best) || (v.Equal(best) && tag > bestTag) {
			best, bestTag = v, tag
		}
	}
	return bestTag, best != nil, nil
}

func parseConstraint(s string) (c *semver.Constraints, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = invalidf("semver range %q: %v", s, r)
		}
	}()
	if strings.TrimSpace(s) == "" {
		return nil, invalidf("semver range is empty")
	}
	c, err = semver.NewConstraint(s)
	if err != nil {
		return nil, invalidf("semver range %q does not parse: %v", s, err)
	}
	return c, nil
}
