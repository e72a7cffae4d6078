package imagepolicy

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/gitopskit/gitopskit/source"
)

// Order is the direction of an alphabetical or numerical policy. Flux
// accepts it in any case; the zero value means OrderAsc.
type Order string

const (
	// OrderAsc selects the greatest tag (the last in ascending order).
	OrderAsc Order = "asc"
	// OrderDesc selects the smallest tag (the first in ascending order).
	OrderDesc Order = "desc"
)

// Policy is what an ImagePolicy's spec.policy and spec.filterTags hold:
// exactly one of SemVer, Alphabetical, Numerical or NewestPushed, and an
// optional filter applied before it.
type Policy struct {
	// SemVer selects the highest version in a range.
	SemVer *SemVerPolicy
	// Alphabetical selects by string order.
	Alphabetical *OrderPolicy
	// Numerical selects by numeric value; every candidate must be a number.
	Numerical *OrderPolicy
	// NewestPushed selects the tag whose image was created last. It is not
	// one of Flux's policies.
	NewestPushed *NewestPushedPolicy
	// FilterTags keeps only the tags matching a pattern and optionally
	// replaces each with an extract of it before the policy compares them.
	FilterTags *FilterTags
}

// SemVerPolicy is Flux's semver policy.
type SemVerPolicy struct {
	// Range is a Masterminds semver constraint, e.g. ">=1.0.0 <2.0.0".
	Range string
}

// OrderPolicy is Flux's alphabetical or numerical policy.
type OrderPolicy struct {
	// Order is OrderAsc (the zero value) or OrderDesc.
	Order Order
}

// NewestPushedPolicy selects the tag with the latest creation time.
type NewestPushedPolicy struct {
	// Pushed holds the creation time of each tag's image (PushTimes reads
	// them from the registry). Tags without an entry do not qualify. Ties
	// go to the tag that comes first in the tag list.
	Pushed map[string]time.Time
}

// FilterTags is Flux's spec.filterTags.
type FilterTags struct {
	// Pattern is a Go regular expression a tag must match.
	Pattern string
	// Extract, when set, replaces each matching tag by the expansion of
	// this template ("$name", "${1}") against the match, and the policy
	// compares these values; the selected tag is still the original one.
	// When several tags give the same value, the last one in the list
	// stands for it.
	Extract string
}

// Kind returns the name of the policy that is set ("semver",
// "alphabetical", "numerical", "newestPushed"), or "" when none is.
func (p Policy) Kind() string {
	switch {
	case p.SemVer != nil:
		return "semver"
	case p.Alphabetical != nil:
		return "alphabetical"
	case p.Numerical != nil:
		return "numerical"
	case p.NewestPushed != nil:
		return "newestPushed"
	}
	return ""
}

// invalidError is a policy that cannot be evaluated.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Unwrap() error { return source.ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// compiled is a policy ready to be applied many times.
type compiled struct {
	p          Policy
	kind       string
	constraint *semver.Constraints
	order      Order
	filter     *regexp.Regexp
}

func compile(p Policy) (_ *compiled, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = invalidf("image policy does not parse: %v", r)
		}
	}()
	c := &compiled{p: p, kind: p.Kind()}
	n := 0
	for _, set := range []bool{p.SemVer != nil, p.Alphabetical != nil, p.Numerical != nil, p.NewestPushed != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, invalidf("image policy must set exactly one of semver, alphabetical, numerical or newestPushed (%d set)", n)
	}
	switch {
	case p.SemVer != nil:
		c.constraint, err = semver.NewConstraint(p.SemVer.Range)
		if err != nil {
			return nil, invalidf("semver range %q is invalid: %v", p.SemVer.Range, err)
		}
	case p.Alphabetical != nil:
		c.order, err = parseOrder(p.Alphabetical.Order)
	case p.Numerical != nil:
		c.order, err = parseOrder(p.Numerical.Order)
	}
	if err != nil {
		return nil, err
	}
	if p.FilterTags != nil {
		c.filter, err = regexp.Compile(p.FilterTags.Pattern)
		if err != nil {
			return nil, invalidf("filterTags pattern %q is invalid: %v", p.FilterTags.Pattern, err)
		}
	}
	return c, nil
}

func parseOrder(o Order) (Order, error) {
	switch Order(strings.ToLower(string(o))) {
	case "", OrderAsc:
		return OrderAsc, nil
	case OrderDesc:
		return OrderDesc, nil
	}
	return "", invalidf("order %q is invalid, must be one of: asc, desc", string(o))
}

// candidate is a value the policy compares and the tag it stands for.
type candidate struct {
	value, tag string
}

// candidates applies the filter: values in order of first appearance, each
// standing for the last tag that gave it (Flux keeps a map, last write
// wins).
func (c *compiled) candidates(tags []string) []candidate {
	if c.filter == nil {
		out := make([]candidate, len(tags))
		for i, t := range tags {
			out[i] = candidate{t, t}
		}
		return out
	}
	extract := c.p.FilterTags.Extract
	index := map[string]int{}
	var out []candidate
	var buf []byte
	for _, t := range tags {
		m := c.filter.FindStringSubmatchIndex(t)
		if m == nil {
			continue
		}
		v := t
		if extract != "" {
			buf = c.filter.ExpandString(buf[:0], extract, t, m)
			v = string(buf)
		}
		if i, ok := index[v]; ok {
			out[i].tag = t
			continue
		}
		index[v] = len(out)
		out = append(out, candidate{v, t})
	}
	return out
}

// Select returns the tag the policy selects among tags, as Flux's
// ImagePolicy does:
//
//   - SemVer: tags that parse as versions with three dot-separated parts
//     (a leading "v" and leading zeros allowed, Masterminds' loose parse)
//     and satisfy the range; prereleases only when the range admits them.
//     The highest wins; between equal versions ("1.0.0", "v1.0.0") the
//     first in the list.
//   - Alphabetical: the greatest string (OrderAsc) or the smallest
//     (OrderDesc), comparing bytes.
//   - Numerical: every candidate must parse as a floating-point number,
//     else the policy fails naming the first that does not; the greatest
//     (OrderAsc) or smallest (OrderDesc) wins, the later one on ties.
//   - NewestPushed: the latest time in NewestPushed.Pushed.
//
// When nothing qualifies the error is a *NoMatchError.
func Select(p Policy, tags []string) (string, error) {
	c, err := compile(p)
	if err != nil {
		return "", err
	}
	return c.selectTag(tags)
}

func (c *compiled) selectTag(tags []string) (string, error) {
	noMatch := func(candidates int, reason string) error {
		return &NoMatchError{Policy: c.kind, Tags: len(tags), Candidates: candidates, Reason: reason}
	}
	if len(tags) == 0 {
		return "", noMatch(0, "the repository has no tags")
	}
	cands := c.candidates(tags)
	if len(cands) == 0 {
		return "", noMatch(0, fmt.Sprintf("no tag matches the filterTags pattern %q", c.p.FilterTags.Pattern))
	}
	switch c.kind {
	case "semver":
		var best *semver.Version
		var bestTag string
		parsed := 0
		for _, cd := range cands {
			v, err := ParseVersion(cd.value)
			if err != nil {
				continue
			}
			parsed++
			if c.constraint.Check(v) && (best == nil || v.GreaterThan(best)) {
				best, bestTag = v, cd.tag
			}
		}
		if best == nil {
			if parsed == 0 {
				return "", noMatch(len(cands), "no candidate is a semantic version with three dot-separated parts")
			}
			return "", noMatch(len(cands), fmt.Sprintf("none of the %d semantic versions satisfies the range %q", parsed, c.p.SemVer.Range))
		}
		return bestTag, nil
	case "alphabetical":
		best := cands[0]
		for _, cd := range cands[1:] {
			if (c.order == OrderAsc && cd.value > best.value) || (c.order == OrderDesc && cd.value < best.value) {
				best = cd
			}
		}
		return best.tag, nil
	case "numerical":
		var best candidate
		var bv float64
		for i, cd := range cands {
			v, err := strconv.ParseFloat(cd.value, 64)
			if err != nil {
				return "", noMatch(len(cands), fmt.Sprintf("%q is not a number", cd.value))
			}
			if i > 0 && ((c.order == OrderAsc && v < bv) || (c.order == OrderDesc && v > bv)) {
				continue
			}
			best, bv = cd, v
		}
		return best.tag, nil
	case "newestPushed":
		var bestTag string
		var bestTime time.Time
		found := false
		for _, cd := range cands {
			t, ok := c.p.NewestPushed.Pushed[cd.tag]
			if !ok {
				continue
			}
			if !found || t.After(bestTime) {
				bestTag, bestTime, found = cd.tag, t, true
			}
		}
		if !found {
			return "", noMatch(len(cands), "no candidate has a known push time")
		}
		return bestTag, nil
	}
	return "", invalidf("image policy kind %q is unknown", c.kind)
}

// ParseVersion parses a tag as Flux's semver policy does: exactly three
// dot-separated parts (so "1.2" and "1" are not versions), then
// Masterminds' loose parse ("v1.2.3", "01.02.03-rc.1" are).
func ParseVersion(tag string) (v *semver.Version, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("version %q does not parse: %v", tag, r)
		}
	}()
	if len(strings.SplitN(tag, ".", 3)) != 3 {
		return nil, semver.ErrInvalidSemVer
	}
	return semver.NewVersion(tag)
}

// SortTags sorts tags in place in descending string order, as Flux lists
// an ImageRepository's latest tags.
func SortTags(tags []string) {
	slices.SortStableFunc(tags, func(a, b string) int { return strings.Compare(b, a) })
}
