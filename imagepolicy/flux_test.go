package imagepolicy

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
	fluxversion "github.com/fluxcd/pkg/version"
)

// fluxSemVer is what Flux's semver policy selects: the highest of the
// versions fluxcd/pkg/version parses and the range admits.
func fluxSemVer(rng string, tags []string) (*semver.Version, bool) {
	c, err := semver.NewConstraint(rng)
	if err != nil {
		return nil, false
	}
	sorted := fluxversion.Sort(c, tags)
	if len(sorted) == 0 {
		return nil, false
	}
	v, err := fluxversion.ParseVersion(sorted[0])
	return v, err == nil
}

// checkAgainstFlux compares Select's semver policy and ParseVersion with
// Flux's own version package on one input.
func checkAgainstFlux(t *testing.T, rng string, tags []string) {
	t.Helper()
	for _, tag := range tags {
		_, ours := ParseVersion(tag)
		_, theirs := fluxversion.ParseVersion(tag)
		if (ours == nil) != (theirs == nil) {
			t.Fatalf("ParseVersion(%q): ours %v, Flux's %v", tag, ours, theirs)
		}
	}
	if _, err := semver.NewConstraint(rng); err != nil {
		return
	}
	want, ok := fluxSemVer(rng, tags)
	got, err := Select(Policy{SemVer: &SemVerPolicy{Range: rng}}, tags)
	if !ok {
		if !errors.Is(err, ErrNoMatch) {
			t.Fatalf("range %q over %q: Flux selects nothing, we select %q (%v)", rng, tags, got, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("range %q over %q: Flux selects %s, we fail: %v", rng, tags, want.Original(), err)
	}
	v, _ := ParseVersion(got)
	if v == nil || !v.Equal(want) {
		t.Fatalf("range %q over %q: we select %q, Flux %q", rng, tags, got, want.Original())
	}
}

// TestSemVerAgainstFlux runs a generated corpus of version-like tags and
// ranges through both implementations.
func TestSemVerAgainstFlux(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	parts := []string{"0", "1", "2", "10", "01", "2025", "x", ""}
	pre := []string{"", "-rc.1", "-rc.10", "-alpha", "-0", "-beta.2", "+build.5", "-rc.1+b"}
	ranges := []string{"*", ">=1.0.0", ">=1.0.0-0", "1.x", "~1.2", "^2.0.0", "<2.0.0", ">=1.0.0 <2.0.0", "1.2.3 || >=10.0.0", "=2025.1.1", ">0.0.0-0", "!=1.0.0"}
	for i := range 3000 {
		n := 1 + r.IntN(12)
		tags := make([]string, n)
		for j := range tags {
			var b strings.Builder
			if r.IntN(3) == 0 {
				b.WriteString("v")
			}
			segs := 1 + r.IntN(4)
			for s := range segs {
				if s > 0 {
					b.WriteString(".")
				}
				b.WriteString(parts[r.IntN(len(parts))])
			}
			b.WriteString(pre[r.IntN(len(pre))])
			tags[j] = b.String()
		}
		rng := ranges[r.IntN(len(ranges))]
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkAgainstFlux(t, rng, tags) })
	}
}

// FuzzSemVerAgainstFlux does the same with fuzzed input.
func FuzzSemVerAgainstFlux(f *testing.F) {
	f.Add(">=1.0.0", "1.0.0\nv1.0.0\n1.2\n1.2.3-rc.1")
	f.Add("~1", "01.02.03\n1.2.3+b\nv1.2.4")
	f.Fuzz(func(t *testing.T, rng, tagList string) {
		checkAgainstFlux(t, rng, strings.Split(tagList, "\n"))
	})
}
