package notify

import (
	"fmt"
	"sort"
	"strings"
)

// Where a notification's metadata key came from, lowest precedence first;
// MetadataConflict.Sources uses these words.
const (
	SourceObjectAnnotations  = "involved object annotations"
	SourceAlertEventMetadata = "Alert .spec.eventMetadata"
	SourceAlertSummary       = "Alert .spec.summary"
	SourceControllerMetadata = "involved object controller metadata"
)

// MetadataConflict reports a notification metadata key set by more than one
// source; the last source in Sources won. Flux logs these and records a
// MetadataAppendFailed warning event on the Alert.
type MetadataConflict struct {
	Key     string
	Sources []string
}

// Notification composes what providers deliver for e under r's Alert, as
// Flux's event server does before dispatch. The metadata is combined from,
// lowest precedence first:
//
//  1. keys prefixed "event.toolkit.fluxcd.io/" (the involved object's
//     event annotations), prefix stripped;
//  2. the Alert's EventMetadata, keys as they are;
//  3. the Alert's Summary, under "summary";
//  4. keys prefixed with the involved object's API group (the
//     controller's own), prefix stripped; bare keys count as these too,
//     below a prefixed key of the same name.
//
// Other keys are dropped. Conflicts are returned, sorted by key. When the
// Alert has a Template, the notification's Message is its output; a
// template error is returned with the composed notification and its
// original message. e is first passed through Normalize (so the token,
// checksum and digest never reach a provider); e itself is not modified.
func (r *Rule) Notification(e Event) (Event, []MetadataConflict, error) {
	e = Normalize(e)
	meta := make(map[string]string)
	sources := make(map[string][]string)
	set := func(k, v, src string) {
		meta[k] = v
		if s := sources[k]; len(s) == 0 || s[len(s)-1] != src {
			sources[k] = append(s, src)
		}
	}
	const eventPrefix = EventGroup + "/"
	for k, v := range e.Metadata {
		if rest, ok := strings.CutPrefix(k, eventPrefix); ok {
			set(rest, v, SourceObjectAnnotations)
		}
	}
	for k, v := range r.alert.EventMetadata {
		set(k, v, SourceAlertEventMetadata)
	}
	if r.alert.Summary != "" {
		set(MetaSummaryKey, r.alert.Summary, SourceAlertSummary)
	}
	for k, v := range e.Metadata {
		if !strings.Contains(k, "/") {
			set(k, v, SourceControllerMetadata)
		}
	}
	if g := ObjectGroup(e.InvolvedObject); g != "" {
		objPrefix := g + "/"
		for k, v := range e.Metadata {
			if rest, ok := strings.CutPrefix(k, objPrefix); ok {
				set(rest, v, SourceControllerMetadata)
			}
		}
	}
	var conflicts []MetadataConflict
	for k, s := range sources {
		if len(s) > 1 {
			conflicts = append(conflicts, MetadataConflict{Key: k, Sources: s})
		}
	}
	sort.Slice(conflicts, func(i, j int) bool { return conflicts[i].Key < conflicts[j].Key })

	n := e
	n.Metadata = nil
	if len(meta) > 0 {
		n.Metadata = meta
	}
	if r.tmpl != nil {
		msg, err := r.render(n)
		if err != nil {
			return n, conflicts, fmt.Errorf("alert %s/%s: rendering message template: %w", r.alert.Namespace, r.alert.Name, err)
		}
		n.Message = msg
	}
	return n, conflicts, nil
}
