package notify

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchSetup builds 1,000 alerts and 10,000 events over 50 namespaces,
// 6 kinds and 200 object names: a third of the alerts use "*", a fifth
// matchLabels, a quarter an exclusion list and a tenth an inclusion list.
func benchSetup(b *testing.B, sameBucket bool) (*Matcher, []Event) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := []string{"Kustomization", "HelmRelease", "GitRepository", "OCIRepository", "HelmChart", "ImagePolicy"}
	ns := func() string {
		if sameBucket {
			return "ns-0"
		}
		return fmt.Sprintf("ns-%d", rng.IntN(50))
	}
	kind := func() string {
		if sameBucket {
			return kinds[0]
		}
		return kinds[rng.IntN(len(kinds))]
	}
	rules := make([]*Rule, 0, 1000)
	for i := range 1000 {
		a := Alert{Namespace: ns(), Name: fmt.Sprintf("alert-%d", i)}
		if rng.IntN(2) == 0 {
			a.EventSeverity = SeverityError
		}
		for range 1 + rng.IntN(3) {
			s := EventSource{Kind: kind(), Name: fmt.Sprintf("obj-%d", rng.IntN(200))}
			if rng.IntN(3) == 0 {
				s.Name = "*"
			}
			if rng.IntN(5) == 0 {
				s.MatchLabels = map[string]string{"team": fmt.Sprintf("t%d", rng.IntN(4))}
			}
			a.EventSources = append(a.EventSources, s)
		}
		if rng.IntN(4) == 0 {
			a.ExclusionList = []string{`no changes$`, `^Dependencies do not meet`}
		}
		if rng.IntN(10) == 0 {
			a.InclusionList = []string{`(?i)failed|error`}
		}
		rules = append(rules, mustCompile(b, a))
	}
	labels := LabelerFunc(func(_ context.Context, o ObjectReference) (map[string]string, error) {
		return map[string]string{"team": "t" + o.Name[len(o.Name)-1:]}, nil
	})
	msgs := []string{"Reconciliation finished in 2s, next run in 10m0s", "Health check failed after 5m0s", "Deployment/apps/web configured", "Reconciliation finished, no changes", "Dependencies do not meet ready condition"}
	events := make([]Event, 10000)
	for i := range events {
		sev := SeverityInfo
		if rng.IntN(4) == 0 {
			sev = SeverityError
		}
		events[i] = Event{
			InvolvedObject: ObjectReference{Kind: kind(), Namespace: ns(), Name: fmt.Sprintf("obj-%d", rng.IntN(200)), APIVersion: "kustomize.toolkit.fluxcd.io/v1"},
			Severity:       sev, Message: msgs[rng.IntN(len(msgs))], Reason: "R", ReportingController: "c",
		}
	}
	return NewMatcher(rules, MatcherOptions{Labeler: labels}), events
}

func benchmarkMatch(b *testing.B, sameBucket bool) {
	m, events := benchSetup(b, sameBucket)
	ctx := context.Background()
	var dst []*Rule
	matched := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, e := range events {
			dst, _ = m.AppendMatches(ctx, dst[:0], e)
			matched += len(dst)
		}
	}
	b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(matched)/float64(b.N*len(events)), "matches/event")
}

// BenchmarkMatch1000Alerts10000Events matches 10,000 events against 1,000
// alerts spread over namespaces and kinds (one op = all 10,000 events).
func BenchmarkMatch1000Alerts10000Events(b *testing.B) { benchmarkMatch(b, false) }

// BenchmarkMatch1000Alerts10000EventsOneNamespaceKind is the worst case:
// every alert and event in one namespace and kind, so every event is
// checked against every alert.
func BenchmarkMatch1000Alerts10000EventsOneNamespaceKind(b *testing.B) { benchmarkMatch(b, true) }
