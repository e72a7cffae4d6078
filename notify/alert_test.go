package notify

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ev(kind, ns, name, sev, msg string) Event {
	return Event{
		InvolvedObject:      ObjectReference{Kind: kind, Namespace: ns, Name: name, APIVersion: "kustomize.toolkit.fluxcd.io/v1"},
		Severity:            sev,
		Message:             msg,
		Reason:              "ReconciliationSucceeded",
		ReportingController: "kustomize-controller",
	}
}

func mustCompile(t testing.TB, a Alert) *Rule {
	t.Helper()
	r, err := Compile(a)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestMatchRules(t *testing.T) {
	labels := map[string]string{"team": "a", "tier": "web"}
	tests := []struct {
		name  string
		alert Alert
		event Event
		want  bool
	}{
		// kind
		{"kind equal", Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}}, ev("Kustomization", "ns", "x", "info", "m"), true},
		{"kind differs", Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "GitRepository", Name: "*"}}}, ev("Kustomization", "ns", "x", "info", "m"), false},
		{"kind is case-sensitive", Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "kustomization", Name: "*"}}}, ev("Kustomization", "ns", "x", "info", "m"), false},
		// name
		{"name exact", Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "Kustomization", Name: "apps"}}}, ev("Kustomization", "ns", "apps", "info", "m"), true},
		{"name differs", Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "Kustomization", Name: "apps"}}}, ev("Kustomization", "ns", "infra", "info", "m"), false},
		{"name wildcard", Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}}, ev("Kustomization", "ns", "anything", "info", "m"), true},
		{"name glob is literal", Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "Kustomization", Name: "apps-*"}}}, ev("Kustomization", "ns", "apps-1", "info", "m"), false},
		{"name glob literal equal", Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "Kustomization", Name: "apps-*"}}}, ev("Kustomization", "ns", "apps-*", "info", "m"), true},
		// namespace
		{"namespace defaults to alert's", Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}}, ev("Kustomization", "other", "x", "info", "m"), false},
		{"namespace explicit", Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "Kustomization", Name: "*", Namespace: "other"}}}, ev("Kustomization", "other", "x", "info", "m"), true},
		{"namespace explicit differs", Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "Kustomization", Name: "*", Namespace: "other"}}}, ev("Kustomization", "ns", "x", "info", "m"), false},
		// severity
		{"info alert hears info", Alert{Namespace: "ns", EventSeverity: "info", EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}}, ev("Kustomization", "ns", "x", "info", "m"), true},
		{"info alert hears error", Alert{Namespace: "ns", EventSeverity: "info", EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}}, ev("Kustomization", "ns", "x", "error", "m"), true},
		{"info alert hears trace", Alert{Namespace: "ns", EventSeverity: "info", EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}}, ev("Kustomization", "ns", "x", "trace", "m"), true},
		{"empty severity is info", Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}}, ev("Kustomization", "ns", "x", "error", "m"), true},
		{"error alert hears error", Alert{Namespace: "ns", EventSeverity: "error", EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}}, ev("Kustomization", "ns", "x", "error", "m"), true},
		{"error alert ignores info", Alert{Namespace: "ns", EventSeverity: "error", EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}}, ev("Kustomization", "ns", "x", "info", "m"), false},
		{"error alert ignores trace", Alert{Namespace: "ns", EventSeverity: "error", EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}}, ev("Kustomization", "ns", "x", "trace", "m"), false},
		// labels
		{"labels match", Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "Kustomization", Name: "*", MatchLabels: map[string]string{"team": "a"}}}}, ev("Kustomization", "ns", "x", "info", "m"), true},
		{"labels all required", Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "Kustomization", Name: "*", MatchLabels: map[string]string{"team": "a", "tier": "db"}}}}, ev("Kustomization", "ns", "x", "info", "m"), false},
		{"label missing", Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "Kustomization", Name: "*", MatchLabels: map[string]string{"env": "prod"}}}}, ev("Kustomization", "ns", "x", "info", "m"), false},
		{"empty matchLabels is no condition", Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "Kustomization", Name: "*", MatchLabels: map[string]string{}}}}, ev("Kustomization", "ns", "x", "info", "m"), true},
		{"second source matches", Alert{Namespace: "ns", EventSources: []EventSource{
			{Kind: "Kustomization", Name: "*", MatchLabels: map[string]string{"team": "b"}},
			{Kind: "Kustomization", Name: "x"},
		}}, ev("Kustomization", "ns", "x", "info", "m"), true},
		// messages
		{"inclusion matches", Alert{Namespace: "ns", InclusionList: []string{"^Reconciliation"}, EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}}, ev("Kustomization", "ns", "x", "info", "Reconciliation finished"), true},
		{"inclusion misses", Alert{Namespace: "ns", InclusionList: []string{"^Reconciliation"}, EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}}, ev("Kustomization", "ns", "x", "info", "Health check failed"), false},
		{"any inclusion", Alert{Namespace: "ns", InclusionList: []string{"^nope", "failed$"}, EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}}, ev("Kustomization", "ns", "x", "info", "Health check failed"), true},
		{"exclusion matches", Alert{Namespace: "ns", ExclusionList: []string{"no changes"}, EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}}, ev("Kustomization", "ns", "x", "info", "Reconciliation finished, no changes"), false},
		{"exclusion misses", Alert{Namespace: "ns", ExclusionList: []string{"no changes"}, EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}}, ev("Kustomization", "ns", "x", "info", "Deployment/x configured"), true},
		{"exclusion wins over inclusion", Alert{Namespace: "ns", InclusionList: []string{"Reconciliation"}, ExclusionList: []string{"no changes"}, EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}}, ev("Kustomization", "ns", "x", "info", "Reconciliation finished, no changes"), false},
		// suspend
		{"suspended alert hears nothing", Alert{Namespace: "ns", Suspend: true, EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}}, ev("Kustomization", "ns", "x", "info", "m"), false},
	}
	lab := LabelerFunc(func(context.Context, ObjectReference) (map[string]string, error) { return labels, nil })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustCompile(t, tt.alert)
			m := NewMatcher([]*Rule{r}, MatcherOptions{Labeler: lab})
			got, err := m.Match(context.Background(), tt.event)
			if err != nil {
				t.Fatal(err)
			}
			if (len(got) == 1) != tt.want {
				t.Fatalf("matched %d rules, want match=%v", len(got), tt.want)
			}
			if !tt.alert.Suspend {
				if r.Matches(tt.event, labels) != tt.want {
					t.Fatalf("Rule.Matches disagrees with Matcher")
				}
			}
		})
	}
}

func TestMatchOrderAndDedupOfSources(t *testing.T) {
	var rules []*Rule
	for _, name := range []string{"c", "a", "b"} {
		rules = append(rules, mustCompile(t, Alert{Namespace: "ns", Name: name, EventSources: []EventSource{
			{Kind: "Kustomization", Name: "*"}, {Kind: "Kustomization", Name: "x"}, {Kind: "GitRepository", Name: "*"},
		}}))
	}
	m := NewMatcher(rules, MatcherOptions{})
	got, err := m.Match(context.Background(), ev("Kustomization", "ns", "x", "info", "m"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range got {
		names = append(names, r.Alert().Name)
	}
	if diff := cmp.Diff([]string{"c", "a", "b"}, names); diff != "" {
		t.Fatal(diff)
	}
}

func TestMatchLabelLookup(t *testing.T) {
	a := Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "Kustomization", Name: "*", MatchLabels: map[string]string{"team": "a"}}}}
	b := Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "Kustomization", Name: "*", MatchLabels: map[string]string{"team": "a"}}}}
	plain := Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "Kustomization", Name: "*"}}}
	rules := []*Rule{mustCompile(t, a), mustCompile(t, b), mustCompile(t, plain)}
	e := ev("Kustomization", "ns", "x", "info", "m")

	t.Run("looked up once", func(t *testing.T) {
		calls := 0
		m := NewMatcher(rules, MatcherOptions{Labeler: LabelerFunc(func(_ context.Context, o ObjectReference) (map[string]string, error) {
			calls++
			if o.Name != "x" {
				t.Errorf("looked up %v", o)
			}
			return map[string]string{"team": "a"}, nil
		})})
		got, err := m.Match(context.Background(), e)
		if err != nil || len(got) != 3 || calls != 1 {
			t.Fatalf("got %d rules, err %v, %d lookups", len(got), err, calls)
		}
	})
	t.Run("not looked up when unneeded", func(t *testing.T) {
		m := NewMatcher([]*Rule{mustCompile(t, plain)}, MatcherOptions{Labeler: LabelerFunc(func(context.Context, ObjectReference) (map[string]string, error) {
			t.Fatal("lookup")
			return nil, nil
		})})
		if got, _ := m.Match(context.Background(), e); len(got) != 1 {
			t.Fatal("no match")
		}
	})
	t.Run("lookup failure", func(t *testing.T) {
		boom := errors.New("not found")
		m := NewMatcher(rules, MatcherOptions{Labeler: LabelerFunc(func(context.Context, ObjectReference) (map[string]string, error) { return nil, boom })})
		got, err := m.Match(context.Background(), e)
		if len(got) != 1 || !errors.Is(err, boom) {
			t.Fatalf("got %d rules, err %v", len(got), err)
		}
		if n := strings.Count(err.Error(), "not found"); n != 1 {
			t.Fatalf("error reported %d times: %v", n, err)
		}
	})
	t.Run("no labeler", func(t *testing.T) {
		m := NewMatcher(rules, MatcherOptions{})
		got, err := m.Match(context.Background(), e)
		if len(got) != 1 || !errors.Is(err, ErrNoLabeler) {
			t.Fatalf("got %d rules, err %v", len(got), err)
		}
	})
}

func TestMatchCrossNamespace(t *testing.T) {
	r := mustCompile(t, Alert{Namespace: "ns", Name: "a", EventSources: []EventSource{{Kind: "Kustomization", Name: "*", Namespace: "other"}}})
	e := ev("Kustomization", "other", "x", "info", "m")
	if got, err := NewMatcher([]*Rule{r}, MatcherOptions{}).Match(context.Background(), e); len(got) != 1 || err != nil {
		t.Fatalf("allowed by default: %d, %v", len(got), err)
	}
	got, err := NewMatcher([]*Rule{r}, MatcherOptions{NoCrossNamespaceRefs: true}).Match(context.Background(), e)
	if len(got) != 0 || !errors.Is(err, ErrCrossNamespace) {
		t.Fatalf("blocked: %d, %v", len(got), err)
	}
}

func TestCompileErrors(t *testing.T) {
	src := []EventSource{{Kind: "Kustomization", Name: "*"}}
	tests := []struct {
		name  string
		alert Alert
		want  string
	}{
		{"severity", Alert{Namespace: "ns", EventSeverity: "warning", EventSources: src}, `eventSeverity "warning"`},
		{"trace severity", Alert{Namespace: "ns", EventSeverity: "trace", EventSources: src}, `eventSeverity "trace"`},
		{"no sources", Alert{Namespace: "ns"}, "no eventSources"},
		{"no kind", Alert{Namespace: "ns", EventSources: []EventSource{{Name: "*"}}}, "eventSources[0].kind is required"},
		{"no name", Alert{Namespace: "ns", EventSources: []EventSource{{Kind: "K"}}}, "eventSources[0].name is required"},
		{"no namespace", Alert{EventSources: src}, "eventSources[0].namespace is required"},
		{"inclusion", Alert{Namespace: "ns", EventSources: src, InclusionList: []string{"ok", "("}}, "inclusionList[1]"},
		{"exclusion", Alert{Namespace: "ns", EventSources: src, ExclusionList: []string{"[z-a]"}}, "exclusionList[0]"},
		{"template", Alert{Namespace: "ns", EventSources: src, Template: "{{.Message"}, "template:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.alert)
			if !errors.Is(err, ErrInvalidAlert) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
