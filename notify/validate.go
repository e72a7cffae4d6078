package notify

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// MaxMessageLength is the longest Event message Flux's event API accepts,
// in characters.
const MaxMessageLength = 39000

// ErrInvalidEvent is wrapped by every ValidationError.
var ErrInvalidEvent = errors.New("invalid event")

// ValidationError says which field of an Event is wrong and why.
type ValidationError struct {
	// Field is the JSON path of the field, such as "involvedObject.kind".
	Field string
	// Reason says what is wrong with it.
	Reason string
}

// Error names the field and the reason.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid event: %s: %s", e.Field, e.Reason)
}

// Unwrap returns ErrInvalidEvent.
func (e *ValidationError) Unwrap() error { return ErrInvalidEvent }

// Validate checks what Flux's recorder guarantees before it posts and what
// Flux's event API requires: the involved object's kind, name and
// namespace; a severity of trace, info or error; a reason; the reporting
// controller; a message of at most MaxMessageLength characters. It returns
// the first *ValidationError found, or nil.
func (e Event) Validate() error {
	switch {
	case e.InvolvedObject.Kind == "":
		return &ValidationError{Field: "involvedObject.kind", Reason: "required"}
	case e.InvolvedObject.Name == "":
		return &ValidationError{Field: "involvedObject.name", Reason: "required"}
	case e.InvolvedObject.Namespace == "":
		return &ValidationError{Field: "involvedObject.namespace", Reason: "required"}
	}
	switch e.Severity {
	case SeverityTrace, SeverityInfo, SeverityError:
	case "":
		return &ValidationError{Field: "severity", Reason: "required"}
	default:
		return &ValidationError{Field: "severity", Reason: fmt.Sprintf("%q is not one of trace, info, error", truncate(e.Severity, 32))}
	}
	if e.Reason == "" {
		return &ValidationError{Field: "reason", Reason: "required"}
	}
	if e.ReportingController == "" {
		return &ValidationError{Field: "reportingController", Reason: "required"}
	}
	if n := utf8.RuneCountInString(e.Message); n > MaxMessageLength {
		return &ValidationError{Field: "message", Reason: fmt.Sprintf("%d characters exceed the maximum of %d", n, MaxMessageLength)}
	}
	return nil
}

// truncate shortens s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
