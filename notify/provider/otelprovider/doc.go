// Package otelprovider delivers notify.Event values to an OpenTelemetry
// collector as trace spans, as Flux's notification-controller does for
// Providers of type otel: each event becomes one span, exported with the
// OTLP/HTTP protobuf protocol to the URL in the Provider's address (for
// example http://collector:4318/v1/traces).
//
// It is a package of its own so that only programs that deliver to a
// collector link the OpenTelemetry SDK; provider.New serves the type when
// given Option:
//
//	s, err := provider.New(cfg, otelprovider.Option())
//
// What is sent follows Flux. The span is named "<kind>: <namespace>/<name>"
// after the involved object, starts at the event's timestamp, ends when it
// is exported, and carries the attributes object.uid, object.kind,
// object.name and object.namespace plus one attribute per metadata entry
// (sorted by key; Flux follows map order). Its status is Error with the
// message for error events, Ok otherwise. The resource names the Alert:
// service.name "<namespace>/<name>", service.namespace and
// service.instance.id (its UID), read from Config.AlertObject's metadata;
// the instrumentation scope is ScopeName. The trace ID is the first 16
// bytes of sha256("<alert UID>:<revision>"), where the revision is
// "<app-version>@<oci-digest>" when the event carries both, else its
// "revision" metadata, else "unknown", so every event of one Alert about
// one revision lands in one trace. Events about a HelmRepository are
// skipped, as in Flux.
//
// Authentication follows Flux: an Authorization header from Config.Headers
// is sent as is; otherwise Username and Password are sent as basic
// authentication, and a Password alone as a bearer token. Beyond Flux,
// Token is sent as a bearer token when neither is set, and authentication is
// sent even when Config.Headers is empty (Flux adds it only alongside
// other headers). Config.Proxy, Config.TLSConfig and Config.Transport apply
// as in package provider.
//
// Unlike Flux, which hands export failures to the SDK's global error
// handler, Post returns them: transport errors, 5xx (except 501) and 429
// are retried with Config.Retry's backoff, other statuses are not, and
// Config.Timeout bounds a whole Post (15s by default). No error names the
// address, the token or the password. What is sent does not depend on
// OTEL_* environment variables: the endpoint, headers, timeout,
// compression, TLS, resource and span limits all come from the Config.
package otelprovider
