package imagepolicy

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/source"
)

// FuzzSelect feeds arbitrary tags, ranges, patterns and extracts to every
// policy: it must not panic, must fail only with ErrNoMatch or
// ErrInvalid, and must return one of the tags it was given.
func FuzzSelect(f *testing.F) {
	f.Add("1.0.0\nv1.2.3\nlatest\n1.2", ">=1.0.0", `^v?(\d+\.\d+\.\d+)$`, "$1", "asc")
	f.Add("a-1\nb-2\n01.02.03-rc.1+b", "*", `-(?P<n>\d)`, "${n}", "DESC")
	f.Add("NaN\n1e3\n-0\n0x1p-2", "~1", "", "", "")
	f.Fuzz(func(t *testing.T, tagList, rng, pattern, extract, order string) {
		tags := strings.Split(tagList, "\n")
		var filter *FilterTags
		if pattern != "" {
			filter = &FilterTags{Pattern: pattern, Extract: extract}
		}
		for _, p := range []Policy{
			{SemVer: &SemVerPolicy{Range: rng}, FilterTags: filter},
			{Alphabetical: &OrderPolicy{Order: Order(order)}, FilterTags: filter},
			{Numerical: &OrderPolicy{Order: Order(order)}, FilterTags: filter},
		} {
			got, err := Select(p, tags)
			if err != nil {
				if !errors.Is(err, ErrNoMatch) && !errors.Is(err, source.ErrInvalid) {
					t.Fatalf("%s: unexpected error kind: %v", p.Kind(), err)
				}
				continue
			}
			if !slices.Contains(tags, got) {
				t.Fatalf("%s selected %q, not one of the tags", p.Kind(), got)
			}
		}
		if v, err := ParseVersion(tagList); err == nil && v == nil {
			t.Fatal("ParseVersion returned neither a version nor an error")
		}
	})
}

// FuzzParseImage checks that image names never panic the parser and that
// an accepted name has a canonical form source/oci takes.
func FuzzParseImage(f *testing.F) {
	for _, s := range []string{"alpine", "ghcr.io/org/app", "localhost:5000/a/b", "a:b", "https://x/y", "x@sha256:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		img, err := ParseImage(s, false)
		if err != nil {
			if !errors.Is(err, source.ErrInvalid) {
				t.Fatalf("ParseImage(%q) error is not ErrInvalid: %v", s, err)
			}
			return
		}
		if img.Canonical == "" || strings.Contains(img.Canonical, "@") {
			t.Fatalf("ParseImage(%q) canonical %q", s, img.Canonical)
		}
	})
}
