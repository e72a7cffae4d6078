package notify

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"text/template"
)

// EventSource selects objects whose events an Alert hears, as Flux's
// CrossNamespaceObjectReference does in an Alert's .spec.eventSources.
type EventSource struct {
	// Kind of the involved object, compared exactly (Kustomization,
	// GitRepository, …).
	Kind string `json:"kind"`
	// Name of the involved object; "*" selects every name. No other
	// pattern is recognized: "apps-*" only matches an object named so.
	Name string `json:"name"`
	// Namespace of the involved object; empty means the Alert's namespace.
	Namespace string `json:"namespace,omitempty"`
	// MatchLabels must all be among the involved object's labels (which
	// the Matcher's Labeler provides). Empty means no label condition.
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
}

// Alert is Flux's Alert spec (notification.toolkit.fluxcd.io/v1beta3) with
// the Alert's own name and namespace, plus message templates. Compile turns
// it into a Rule.
type Alert struct {
	// Namespace of the Alert: the default namespace of its event sources
	// and, with MatcherOptions.NoCrossNamespaceRefs, the only namespace
	// it may hear.
	Namespace string `json:"namespace,omitempty"`
	// Name of the Alert, for errors and templates.
	Name string `json:"name,omitempty"`
	// EventSeverity is "info" (hear info and error events; the default
	// when empty, as Flux's API defaults it) or "error" (hear only error
	// events).
	EventSeverity string `json:"eventSeverity,omitempty"`
	// EventSources select the objects heard; an event matches if any
	// source matches it.
	EventSources []EventSource `json:"eventSources"`
	// InclusionList holds Go regular expressions; when not empty, the
	// event message must match one of them.
	InclusionList []string `json:"inclusionList,omitempty"`
	// ExclusionList holds Go regular expressions; a message matching one
	// is not heard, even if it matches the InclusionList.
	ExclusionList []string `json:"exclusionList,omitempty"`
	// EventMetadata is added to each notification's metadata, above the
	// object's event annotations and below the controller's own keys.
	EventMetadata map[string]string `json:"eventMetadata,omitempty"`
	// Summary is stored under "summary" in each notification's metadata
	// (deprecated in Flux in favour of EventMetadata["summary"]).
	Summary string `json:"summary,omitempty"`
	// Suspend stops the Alert from hearing anything.
	Suspend bool `json:"suspend,omitempty"`
	// Template, when not empty, replaces each notification's message
	// with its output: a Go text/template over TemplateData with a safe
	// function set (see Template docs in this package). Empty keeps
	// Flux's output: the event's own message. Not part of Flux's API.
	Template string `json:"template,omitempty"`
	// MaxMessageBytes caps a template's output (default
	// DefaultMaxTemplateOutput); execution stops with an error there.
	MaxMessageBytes int `json:"maxMessageBytes,omitempty"`
}

// ErrInvalidAlert is wrapped by every error Compile returns.
var ErrInvalidAlert = errors.New("invalid alert")

// Rule is a compiled Alert: regular expressions and template parsed once,
// ready for matching. A Rule is immutable and safe for concurrent use.
type Rule struct {
	alert    Alert
	severity string
	include  []*regexp.Regexp
	exclude  []*regexp.Regexp
	tmpl     *template.Template
	maxOut   int
}

// Compile checks a and compiles its regular expressions and template. The
// error names the Alert and what is wrong with it. (Flux keeps such an
// Alert and skips its invalid expressions at each event; a Rule is
// rejected up front instead.)
func Compile(a Alert) (*Rule, error) {
	fail := func(format string, args ...any) (*Rule, error) {
		return nil, fmt.Errorf("%w %s/%s: %s", ErrInvalidAlert, a.Namespace, a.Name, fmt.Sprintf(format, args...))
	}
	r := &Rule{alert: a, severity: a.EventSeverity}
	switch a.EventSeverity {
	case "":
		r.severity = SeverityInfo
	case SeverityInfo, SeverityError:
	default:
		return fail("eventSeverity %q is not info or error", truncate(a.EventSeverity, 32))
	}
	if len(a.EventSources) == 0 {
		return fail("no eventSources")
	}
	for i, s := range a.EventSources {
		if s.Kind == "" {
			return fail("eventSources[%d].kind is required", i)
		}
		if s.Name == "" {
			return fail("eventSources[%d].name is required", i)
		}
		if s.Namespace == "" && a.Namespace == "" {
			return fail("eventSources[%d].namespace is required when the alert has no namespace", i)
		}
		for k := range s.MatchLabels {
			if k == "" {
				return fail("eventSources[%d].matchLabels has an empty key", i)
			}
		}
	}
	for i, expr := range a.InclusionList {
		re, err := regexp.Compile(expr)
		if err != nil {
			return fail("inclusionList[%d]: %v", i, err)
		}
		r.include = append(r.include, re)
	}
	for i, expr := range a.ExclusionList {
		re, err := regexp.Compile(expr)
		if err != nil {
			return fail("exclusionList[%d]: %v", i, err)
		}
		r.exclude = append(r.exclude, re)
	}
	if a.Template != "" {
		maxOut := a.MaxMessageBytes
		if maxOut <= 0 {
			maxOut = DefaultMaxTemplateOutput
		}
		t, err := parseTemplate(a.Name, a.Template, maxOut)
		if err != nil {
			return fail("template: %v", err)
		}
		r.tmpl = t
	}
	r.maxOut = a.MaxMessageBytes
	if r.maxOut <= 0 {
		r.maxOut = DefaultMaxTemplateOutput
	}
	return r, nil
}

// Alert returns the Alert r was compiled from. Its maps are shared with r:
// do not modify them.
func (r *Rule) Alert() Alert { return r.alert }

// MatchesSeverity reports whether the Alert hears events of severity sev:
// an info Alert hears every severity, an error Alert only errors.
func (r *Rule) MatchesSeverity(sev string) bool {
	return sev == r.severity || r.severity == SeverityInfo
}

// MatchesMessage applies the inclusion list (any must match, when not
// empty) and then the exclusion list (none may match): exclusion wins.
func (r *Rule) MatchesMessage(msg string) bool {
	if len(r.include) > 0 {
		in := false
		for _, re := range r.include {
			if re.MatchString(msg) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	for _, re := range r.exclude {
		if re.MatchString(msg) {
			return false
		}
	}
	return true
}

// sourceNamespace is s's namespace with the Alert's as default.
func (r *Rule) sourceNamespace(s EventSource) string {
	if s.Namespace == "" {
		return r.alert.Namespace
	}
	return s.Namespace
}

// matchesSourceIgnoringLabels applies Flux's order of checks for one source
// except the labels: namespace and kind, severity, then name.
func (r *Rule) matchesSourceIgnoringLabels(s EventSource, e Event) bool {
	return e.InvolvedObject.Namespace == r.sourceNamespace(s) &&
		e.InvolvedObject.Kind == s.Kind &&
		r.MatchesSeverity(e.Severity) &&
		(s.Name == "*" || s.Name == e.InvolvedObject.Name)
}

// Matches reports whether r hears e on its own, with labels as the involved
// object's labels (consulted only by sources with MatchLabels). It ignores
// Suspend and cross-namespace policy, which are the Matcher's business.
func (r *Rule) Matches(e Event, labels map[string]string) bool {
	return r.matchesSources(e, r.alert.EventSources, func() (map[string]string, error) { return labels, nil }) && r.MatchesMessage(e.Message)
}

func (r *Rule) matchesSources(e Event, sources []EventSource, labels func() (map[string]string, error)) bool {
	for _, s := range sources {
		if !r.matchesSourceIgnoringLabels(s, e) {
			continue
		}
		if len(s.MatchLabels) == 0 {
			return true
		}
		l, err := labels()
		if err != nil {
			continue
		}
		if labelsMatch(s.MatchLabels, l) {
			return true
		}
	}
	return false
}

func labelsMatch(want, have map[string]string) bool {
	for k, v := range want {
		hv, ok := have[k]
		if !ok || hv != v {
			return false
		}
	}
	return true
}

func nameMatches(s *EventSource, name string) bool {
	return s.Name == "*" || s.Name == name
}

func anyNameMatches(sources []EventSource, name string) bool {
	for i := range sources {
		if nameMatches(&sources[i], name) {
			return true
		}
	}
	return false
}

func labelsOfAnySourceMatch(sources []EventSource, name string, labels func() (map[string]string, error)) bool {
	for i := range sources {
		s := &sources[i]
		if !nameMatches(s, name) {
			continue
		}
		if len(s.MatchLabels) == 0 {
			return true
		}
		if l, err := labels(); err == nil && labelsMatch(s.MatchLabels, l) {
			return true
		}
	}
	return false
}

// matchesMessage is Rule.MatchesMessage with each expression's outcome
// remembered for the event in memo (0 unknown, 1 match, 2 no match).
func (m *Matcher) matchesMessage(be bucketEntry, msg string, memo []uint8) bool {
	match := func(id int) bool {
		if memo[id] == 0 {
			memo[id] = 2
			if m.regexps[id].MatchString(msg) {
				memo[id] = 1
			}
		}
		return memo[id] == 1
	}
	if len(be.include) > 0 {
		in := false
		for _, id := range be.include {
			if match(id) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	for _, id := range be.exclude {
		if match(id) {
			return false
		}
	}
	return true
}

// Labeler gives the labels of an involved object, for event sources with
// matchLabels (Event carries no labels; Flux reads the object from the API
// server). A controller implements it with its cache; tests with a map.
type Labeler interface {
	Labels(ctx context.Context, obj ObjectReference) (map[string]string, error)
}

// LabelerFunc adapts a function to Labeler.
type LabelerFunc func(ctx context.Context, obj ObjectReference) (map[string]string, error)

// Labels calls f.
func (f LabelerFunc) Labels(ctx context.Context, obj ObjectReference) (map[string]string, error) {
	return f(ctx, obj)
}

// ErrCrossNamespace is wrapped by the error Match returns for an Alert that
// matched an event from another namespace while cross-namespace references
// are blocked.
var ErrCrossNamespace = errors.New("cross-namespace references have been blocked")

// ErrNoLabeler is wrapped by the error Match returns when a source with
// matchLabels is consulted and the Matcher has no Labeler.
var ErrNoLabeler = errors.New("no Labeler to read the involved object's labels")

// MatcherOptions configures NewMatcher. The zero value has no Labeler
// (sources with matchLabels match nothing, with an ErrNoLabeler error) and
// allows cross-namespace references, as Flux does by default.
type MatcherOptions struct {
	// Labeler reads the involved object's labels, at most once per event
	// and only when a source with matchLabels is otherwise matched.
	Labeler Labeler
	// NoCrossNamespaceRefs refuses events from a namespace other than the
	// Alert's (Flux's --no-cross-namespace-refs).
	NoCrossNamespaceRefs bool
}

// Matcher finds the Rules that hear an event. Build it once per set of
// Alerts; it indexes rules by namespace and kind. Safe for concurrent use.
type Matcher struct {
	opts    MatcherOptions
	buckets map[bucketKey][]bucketEntry
	// regexps holds each distinct expression once; entries refer to them
	// by index so an expression shared by many Alerts runs once per event.
	regexps []*regexp.Regexp
	memo    sync.Pool // of *[]uint8, one slot per regexp
}

type bucketKey struct{ namespace, kind string }

type bucketEntry struct {
	rule    *Rule
	sources []EventSource
	include []int
	exclude []int
}

// NewMatcher indexes rules; suspended Alerts and nil rules are left out.
// Match returns rules in the order given here.
func NewMatcher(rules []*Rule, opts MatcherOptions) *Matcher {
	m := &Matcher{opts: opts, buckets: make(map[bucketKey][]bucketEntry)}
	ids := map[string]int{}
	intern := func(res []*regexp.Regexp) []int {
		out := make([]int, 0, len(res))
		for _, re := range res {
			id, ok := ids[re.String()]
			if !ok {
				id = len(m.regexps)
				ids[re.String()] = id
				m.regexps = append(m.regexps, re)
			}
			out = append(out, id)
		}
		return out
	}
	for _, r := range rules {
		if r == nil || r.alert.Suspend {
			continue
		}
		include, exclude := intern(r.include), intern(r.exclude)
		seen := map[bucketKey]int{}
		for _, s := range r.alert.EventSources {
			k := bucketKey{r.sourceNamespace(s), s.Kind}
			if i, ok := seen[k]; ok {
				m.buckets[k][i].sources = append(m.buckets[k][i].sources, s)
				continue
			}
			seen[k] = len(m.buckets[k])
			m.buckets[k] = append(m.buckets[k], bucketEntry{rule: r, sources: []EventSource{s}, include: include, exclude: exclude})
		}
	}
	return m
}

// Match returns the rules that hear e, applying Flux's rules: a source
// matches on namespace and kind, severity, name ("*" for all) and
// matchLabels; then the inclusion and exclusion lists. Labels are read
// once, lazily. A label lookup failure or a blocked cross-namespace
// reference leaves that rule out and is reported in the joined error;
// the returned rules are valid either way.
func (m *Matcher) Match(ctx context.Context, e Event) ([]*Rule, error) {
	return m.AppendMatches(ctx, nil, e)
}

// AppendMatches is Match appending to dst, to reuse its storage.
func (m *Matcher) AppendMatches(ctx context.Context, dst []*Rule, e Event) ([]*Rule, error) {
	entries := m.buckets[bucketKey{e.InvolvedObject.Namespace, e.InvolvedObject.Kind}]
	if len(entries) == 0 {
		return dst, nil
	}
	var (
		labels   map[string]string
		labelErr error
		looked   bool
		errs     []error
		memo     []uint8
	)
	if len(m.regexps) > 0 {
		p, _ := m.memo.Get().(*[]uint8)
		if p == nil || len(*p) != len(m.regexps) {
			b := make([]uint8, len(m.regexps))
			p = &b
		}
		memo = *p
		clear(memo)
		defer m.memo.Put(p)
	}
	getLabels := func() (map[string]string, error) {
		if !looked {
			looked = true
			if m.opts.Labeler == nil {
				labelErr = ErrNoLabeler
			} else if l, err := m.opts.Labeler.Labels(ctx, e.InvolvedObject); err != nil {
				labelErr = err
			} else {
				labels = l
			}
			if labelErr != nil {
				errs = append(errs, fmt.Errorf("reading labels of %s/%s/%s: %w",
					e.InvolvedObject.Kind, e.InvolvedObject.Namespace, e.InvolvedObject.Name, labelErr))
			}
		}
		return labels, labelErr
	}
	for _, be := range entries {
		r := be.rule
		// Every source of an entry has the event's namespace and kind (that
		// is the bucket); check the severity and names, then the
		// expressions, then the labels (which may cost a lookup). The
		// outcome is Flux's, whose order differs only in cost.
		if !r.MatchesSeverity(e.Severity) || !anyNameMatches(be.sources, e.InvolvedObject.Name) ||
			!m.matchesMessage(be, e.Message, memo) || !labelsOfAnySourceMatch(be.sources, e.InvolvedObject.Name, getLabels) {
			continue
		}
		if m.opts.NoCrossNamespaceRefs && e.InvolvedObject.Namespace != r.alert.Namespace {
			errs = append(errs, fmt.Errorf("alert %s/%s cannot process event from %s/%s/%s: %w",
				r.alert.Namespace, r.alert.Name, e.InvolvedObject.Kind, e.InvolvedObject.Namespace, e.InvolvedObject.Name, ErrCrossNamespace))
			continue
		}
		dst = append(dst, r)
	}
	return dst, errors.Join(errs...)
}
