// Package notify is the event side of gitopskit: the Event every package
// reports (Flux's event payload, JSON-compatible with what Flux's
// controllers post to the notification-controller), the Recorder interface
// reporters take, alert matching, provider clients that deliver events, and
// webhook receivers that let Git hosts and registries wake a reconciler.
// Nothing in it needs a Kubernetes API server.
//
// Reporting: MultiRecorder fans an event out; HTTPRecorder posts it with
// Flux's protocol to an event server (a notification-controller, or
// NewHandler here); Queue decouples a reporter from a slow recorder. A
// Recorder writing Kubernetes Events needs client-go and lives outside
// this package; EventType and SeverityOf map severities for it.
//
// Receiving and alerting, in the order Flux's event server applies them:
// NewHandler (or DecodeEvent) reads and validates an event; a Deduplicator
// drops identical events within DefaultDedupWindow (DedupKey says what
// identical means); Normalize keeps the metadata used for alerting; a
// Matcher built from compiled Alerts (Compile) returns the Rules that hear
// the event; Admit applies the commit-status and change-request gates of
// a provider type; Rule.Notification composes the metadata (object
// annotations < Alert eventMetadata < summary < controller keys) and, with
// an Alert Template (not in Flux), words the message.
package notify
