package oci

import (
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// HelmChartLayerMediaType is the layer media type of a Helm chart pushed to
// an OCI registry. When a Repository selects it, semver tags are read with
// "_" standing for "+", as Helm writes them ("+" is not allowed in tags).
const HelmChartLayerMediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

// maxFilterLength caps the length of a tag filter expression.
const maxFilterLength = 1024

// SelectSemVer returns the tag with the highest version that satisfies the
// constraint (Masterminds/semver syntax, for example ">=1.0.0 <2.0.0" or
// "1.2.x"), among the tags that match filter (a regular expression; empty
// keeps every tag), as Flux's OCIRepository selects them. Only tags of the
// form major.minor.patch (with an optional leading "v", prerelease and
// build) count; prereleases match only when the constraint names one (for
// example ">=1.0.0-0"). When two tags denote the same version the
// lexically greater name wins. It returns false when no tag matches, and an
// error that wraps source.ErrInvalid when the constraint or the filter does
// not parse.
func SelectSemVer(constraint, filter string, tags []string) (string, bool, error) {
	return selectSemVer(constraint, filter, tags, false)
}

func parseFilter(filter string) (*regexp.Regexp, error) {
	if filter == "" {
		return nil, nil
	}
	if len(filter) > maxFilterLength {
		return nil, invalidf("semver filter is longer than %d bytes", maxFilterLength)
	}
	re, err := regexp.Compile(filter)
	if err != nil {
		return nil, invalidf("semver filter %q does not parse: %v", filter, err)
	}
	return re, nil
}

func parseConstraint(s string) (c *semver.Constraints, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, invalidf("semver range %q does not parse: %v", s, r)
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

func selectSemVer(constraint, filter string, tags []string, helm bool) (string, bool, error) {
	c, err := parseConstraint(constraint)
	if err != nil {
		return "", false, err
	}
	re, err := parseFilter(filter)
	if err != nil {
		return "", false, err
	}
	var best *semver.Version
	bestTag := ""
	for _, tag := range tags {
		if re != nil && !re.MatchString(tag) {
			continue
		}
		v := tag
		if helm {
			v = strings.ReplaceAll(v, "_", "+")
		}
		if strings.Count(v, ".") < 2 || len(strings.SplitN(v, ".", 3)) != 3 {
			continue
		}
		sv, err := semver.NewVersion(v)
		if err != nil || !c.Check(sv) {
			continue
		}
		if best == nil || sv.GreaterThan(best) || (sv.Equal(best) && tag > bestTag) {
			best, bestTag = sv, tag
		}
	}
	return bestTag, best != nil, nil
}
