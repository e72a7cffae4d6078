package imagepolicy

import (
	"fmt"
	"testing"
	"time"
)

// benchTags returns n tags mixing versions, build tags and names, as a
// busy repository holds.
func benchTags(n int) []string {
	tags := make([]string, n)
	for i := range tags {
		switch i % 4 {
		case 0:
			tags[i] = fmt.Sprintf("%d.%d.%d", i/10000, (i/100)%100, i%100)
		case 1:
			tags[i] = fmt.Sprintf("main-%07x-%d", i*7919, 1700000000+i)
		case 2:
			tags[i] = fmt.Sprintf("v%d.%d.%d-rc.%d", i/10000, (i/100)%100, i%100, i%7)
		default:
			tags[i] = fmt.Sprintf("%d", i)
		}
	}
	return tags
}

// BenchmarkSelect runs each policy kind over 100,000 tags.
func BenchmarkSelect(b *testing.B) {
	tags := benchTags(100_000)
	pushed := make(map[string]time.Time, len(tags))
	t0 := time.Now()
	for i, t := range tags {
		pushed[t] = t0.Add(time.Duration(i%5000) * time.Second)
	}
	numericFilter := &FilterTags{Pattern: `^\d+$`}
	for _, bc := range []struct {
		name string
		p    Policy
	}{
		{"semver", Policy{SemVer: &SemVerPolicy{Range: ">=1.0.0"}}},
		{"semver-prerelease", Policy{SemVer: &SemVerPolicy{Range: ">=1.0.0-0"}}},
		{"alphabetical", Policy{Alphabetical: &OrderPolicy{Order: OrderAsc}}},
		{"numerical-filtered", Policy{Numerical: &OrderPolicy{Order: OrderAsc}, FilterTags: numericFilter}},
		{"numerical-extract", Policy{Numerical: &OrderPolicy{}, FilterTags: &FilterTags{Pattern: `^main-[0-9a-f]+-(?P<ts>\d+)$`, Extract: "$ts"}}},
		{"newest-pushed", Policy{NewestPushed: &NewestPushedPolicy{Pushed: pushed}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Select(bc.p, tags); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
