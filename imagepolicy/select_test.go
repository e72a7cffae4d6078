package imagepolicy

import (
	"errors"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/source"
)

// The cases follow Flux's documented rules for ImagePolicy and the
// behaviour its policy tests check.
func TestSelect(t *testing.T) {
	semverP := func(r string) Policy { return Policy{SemVer: &SemVerPolicy{Range: r}} }
	alpha := func(o Order) Policy { return Policy{Alphabetical: &OrderPolicy{Order: o}} }
	num := func(o Order) Policy { return Policy{Numerical: &OrderPolicy{Order: o}} }
	withFilter := func(p Policy, pattern, extract string) Policy {
		p.FilterTags = &FilterTags{Pattern: pattern, Extract: extract}
		return p
	}
	ubuntu := []string{"xenial", "yakkety", "zesty", "artful", "bionic"}
	numbers := []string{"-62", "-88", "73", "72", "15", "16", "15", "29", "-33", "-91"}
	for _, tc := range []struct {
		name    string
		policy  Policy
		tags    []string
		want    string
		noMatch bool
		invalid bool
	}{
		{name: "semver patch range", policy: semverP("1.0.x"), tags: []string{"1.0.0", "1.0.1", "1.1.0", "2.0.0"}, want: "1.0.1"},
		{name: "semver highest overall", policy: semverP(">=1.0.0"), tags: []string{"1.0.0", "2.10.0", "2.9.0"}, want: "2.10.0"},
		{name: "semver v prefix", policy: semverP(">=1.0.0"), tags: []string{"v1.0.0", "v1.2.3", "1.2.2"}, want: "v1.2.3"},
		{name: "semver tie keeps first", policy: semverP(">=1.0.0"), tags: []string{"v1.0.0", "1.0.0"}, want: "v1.0.0"},
		{name: "semver tie keeps first reversed", policy: semverP(">=1.0.0"), tags: []string{"1.0.0", "v1.0.0"}, want: "1.0.0"},
		{name: "semver prerelease excluded", policy: semverP(">=1.0.0"), tags: []string{"1.0.0", "1.1.0-rc.1"}, want: "1.0.0"},
		{name: "semver prerelease admitted", policy: semverP(">=1.0.0-0"), tags: []string{"1.0.0", "1.1.0-rc.1"}, want: "1.1.0-rc.1"},
		{name: "semver prerelease order", policy: semverP(">=1.0.0-0"), tags: []string{"1.1.0-rc.2", "1.1.0-rc.10", "1.1.0-beta"}, want: "1.1.0-rc.10"},
		{name: "semver release beats its prerelease", policy: semverP(">=1.0.0-0"), tags: []string{"1.1.0-rc.1", "1.1.0"}, want: "1.1.0"},
		{name: "semver two parts are not versions", policy: semverP(">=1.0"), tags: []string{"1.2", "1.1.0", "2"}, want: "1.1.0"},
		{name: "semver four parts are not versions", policy: semverP(">=1.0.0"), tags: []string{"1.2.3.4", "1.0.0"}, want: "1.0.0"},
		{name: "semver leading zeros", policy: semverP(">=2025.1.1"), tags: []string{"v2025.02.03", "2025.01.30"}, want: "v2025.02.03"},
		{name: "semver build metadata", policy: semverP("1.x"), tags: []string{"1.0.0+build.1", "1.0.1+build.0"}, want: "1.0.1+build.0"},
		{name: "semver caret", policy: semverP("^1.2.0"), tags: []string{"1.1.9", "1.9.0", "2.0.0"}, want: "1.9.0"},
		{name: "semver tilde", policy: semverP("~1.2.0"), tags: []string{"1.2.9", "1.3.0"}, want: "1.2.9"},
		{name: "semver none in range", policy: semverP(">=3.0.0"), tags: []string{"1.0.0", "2.0.0"}, noMatch: true},
		{name: "semver no versions", policy: semverP(">=1.0.0"), tags: []string{"latest", "main"}, noMatch: true},
		{name: "semver bad range", policy: semverP("one point oh"), tags: []string{"1.0.0"}, invalid: true},
		{name: "semver empty list", policy: semverP(">=1.0.0"), tags: nil, noMatch: true},
		{name: "alphabetical asc", policy: alpha(OrderAsc), tags: ubuntu, want: "zesty"},
		{name: "alphabetical default is asc", policy: alpha(""), tags: ubuntu, want: "zesty"},
		{name: "alphabetical desc", policy: alpha(OrderDesc), tags: ubuntu, want: "artful"},
		{name: "alphabetical upper case order", policy: alpha("DESC"), tags: ubuntu, want: "artful"},
		{name: "alphabetical timestamps", policy: alpha(OrderAsc), tags: []string{"RELEASE.2017-02-13T22-15-44Z", "RELEASE.2023-01-31T02-24-19Z", "RELEASE.2019-05-01T12-00-00Z"}, want: "RELEASE.2023-01-31T02-24-19Z"},
		{name: "alphabetical bytes not numbers", policy: alpha(OrderAsc), tags: []string{"9", "10"}, want: "9"},
		{name: "alphabetical bad order", policy: alpha("newest"), tags: ubuntu, invalid: true},
		{name: "numerical asc", policy: num(OrderAsc), tags: numbers, want: "73"},
		{name: "numerical desc", policy: num(OrderDesc), tags: numbers, want: "-91"},
		{name: "numerical floats", policy: num(OrderAsc), tags: []string{"1.5", "1.10", "1.09"}, want: "1.5"},
		{name: "numerical tie keeps last", policy: num(OrderAsc), tags: []string{"1.0", "1", "01"}, want: "01"},
		{name: "numerical non-number fails", policy: num(OrderAsc), tags: []string{"1", "two", "3"}, noMatch: true},
		{name: "numerical bad order", policy: num("up"), tags: numbers, invalid: true},
		{name: "filter extract numerical", policy: withFilter(num(OrderAsc), `^main-[a-f0-9]+-(?P<ts>[0-9]+)$`, "$ts"),
			tags: []string{"main-aaa-100", "main-bbb-300", "main-ccc-200", "pr-1-900", "latest"}, want: "main-bbb-300"},
		{name: "filter extract braces", policy: withFilter(semverP(">=1.0.0"), `^app-(\d+\.\d+\.\d+)$`, "${1}"),
			tags: []string{"app-1.0.0", "app-1.2.0", "web-9.0.0"}, want: "app-1.2.0"},
		{name: "filter only", policy: withFilter(alpha(OrderAsc), `^stable-`, ""), tags: []string{"stable-a", "stable-b", "zz"}, want: "stable-b"},
		{name: "filter makes numerical pass", policy: withFilter(num(OrderAsc), `^\d+$`, ""), tags: []string{"3", "latest", "12"}, want: "12"},
		{name: "filter same extract last wins", policy: withFilter(alpha(OrderAsc), `-(\d)$`, "$1"), tags: []string{"a-1", "b-1", "c-0"}, want: "b-1"},
		{name: "filter matches nothing", policy: withFilter(alpha(OrderAsc), `^nope`, ""), tags: ubuntu, noMatch: true},
		{name: "filter bad pattern", policy: withFilter(alpha(OrderAsc), `(`, ""), tags: ubuntu, invalid: true},
		{name: "no policy", policy: Policy{}, tags: ubuntu, invalid: true},
		{name: "two policies", policy: Policy{SemVer: &SemVerPolicy{Range: "*"}, Alphabetical: &OrderPolicy{}}, tags: ubuntu, invalid: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Select(tc.policy, tc.tags)
			switch {
			case tc.noMatch:
				var nm *NoMatchError
				if !errors.Is(err, ErrNoMatch) || !errors.As(err, &nm) || nm.Reason == "" {
					t.Fatalf("Select = %q, %v; want a NoMatchError", got, err)
				}
			case tc.invalid:
				if !errors.Is(err, source.ErrInvalid) {
					t.Fatalf("Select = %q, %v; want ErrInvalid", got, err)
				}
			default:
				if err != nil || got != tc.want {
					t.Fatalf("Select = %q, %v; want %q", got, err, tc.want)
				}
			}
		})
	}
}

func TestSelectNewestPushed(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := Policy{NewestPushed: &NewestPushedPolicy{Pushed: map[string]time.Time{
		"a": t0.Add(time.Hour), "b": t0.Add(3 * time.Hour), "c": t0.Add(2 * time.Hour), "d": t0.Add(3 * time.Hour),
	}}}
	if got, err := Select(p, []string{"a", "b", "c", "d", "unknown"}); err != nil || got != "b" {
		t.Fatalf("Select = %q, %v; want b", got, err)
	}
	p.FilterTags = &FilterTags{Pattern: "^[ac]$"}
	if got, err := Select(p, []string{"a", "b", "c", "d"}); err != nil || got != "c" {
		t.Fatalf("filtered Select = %q, %v; want c", got, err)
	}
	if _, err := Select(p, []string{"x"}); !errors.Is(err, ErrNoMatch) {
		t.Fatalf("Select without times = %v; want ErrNoMatch", err)
	}
	p.FilterTags = nil
	if _, err := Select(p, []string{"unknown"}); !errors.Is(err, ErrNoMatch) {
		t.Fatalf("Select without times = %v; want ErrNoMatch", err)
	}
}

func TestParseVersion(t *testing.T) {
	for tag, ok := range map[string]bool{
		"1.2.3": true, "v1.2.3": true, "1.2.3-rc.1": true, "01.02.03": true, "1.2.3+meta": true,
		"1.2": false, "1": false, "latest": false, "1.2.3.4": false, "": false, "v": false,
	} {
		_, err := ParseVersion(tag)
		if (err == nil) != ok {
			t.Errorf("ParseVersion(%q) error = %v, want ok=%v", tag, err, ok)
		}
	}
}
