package otelprovider

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.34.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/gitopskit/gitopskit/notify"
	"github.com/gitopskit/gitopskit/notify/provider"
	"github.com/gitopskit/gitopskit/source"
)

// ScopeName is the instrumentation scope of the spans, as Flux names it.
const ScopeName = "flux:notification-controller"

// Defaults, as in Flux's notification-controller.
const (
	defaultTimeout = 15 * time.Second
	defaultRetries = 4
	defaultMinWait = 2 * time.Second
	defaultMaxWait = 30 * time.Second
)

// Metadata keys the trace ID is derived from, as Flux names them.
const (
	metaOCIDigest  = "oci-digest"
	metaAppVersion = "app-version"
	metaRevision   = "revision"
)

// Option returns the provider.Option that makes provider.New serve
// provider.TypeOTel with New.
func Option() provider.Option {
	return provider.WithConstructor(provider.TypeOTel, New)
}

// sender exports one span per event.
type sender struct {
	endpoint string
	headers  map[string]string
	rt       http.RoundTripper
	timeout  time.Duration
	retry    provider.Retry
	res      *resource.Resource
	alertUID string
	red      *source.Redactor
}

// New returns the Sender exporting spans to the OTLP/HTTP traces endpoint
// at cfg.Address. cfg.AlertObject must hold the Alert's metadata (name,
// namespace and uid), which name the service and seed the trace ID. New
// does no I/O. Its errors wrap provider.ErrInvalidConfig, naming the
// field, and contain no secret.
func New(cfg provider.Config) (provider.Sender, error) {
	if cfg.Type != "" && cfg.Type != provider.TypeOTel {
		return nil, fmt.Errorf("%w: %q", provider.ErrUnsupportedType, cfg.Type)
	}
	if cfg.Address == "" {
		return nil, configError("Address", "is required (the collector's OTLP/HTTP traces URL)")
	}
	u, err := url.Parse(cfg.Address)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, configError("Address", "is not an http or https URL")
	}
	name, namespace, uid := alertIdentity(cfg.AlertObject)
	if name == "" || namespace == "" || uid == "" {
		return nil, configError("AlertObject", "needs metadata.name, metadata.namespace and metadata.uid of the Alert")
	}
	if cfg.Timeout < 0 {
		return nil, configError("Timeout", "must not be negative")
	}
	if cfg.Retry.MinWait < 0 || cfg.Retry.MaxWait < 0 {
		return nil, configError("Retry", "waits must not be negative")
	}
	rt := cfg.Transport
	if rt != nil && (cfg.Proxy != "" || cfg.TLSConfig != nil) {
		return nil, configError("Transport", "cannot be combined with Proxy or TLSConfig")
	}
	if rt == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil
		if cfg.Proxy != "" {
			pu, err := url.Parse(cfg.Proxy)
			if err != nil || pu.Host == "" {
				return nil, configError("Proxy", "is not a URL")
			}
			tr.Proxy = http.ProxyURL(pu)
		}
		if cfg.TLSConfig != nil {
			tr.TLSClientConfig = cfg.TLSConfig.Clone()
		}
		rt = tr
	}
	s := &sender{
		endpoint: cfg.Address,
		headers:  map[string]string{},
		rt:       rt,
		timeout:  cfg.Timeout,
		retry:    cfg.Retry,
		alertUID: uid,
		red:      source.NewRedactor(cfg.Token, cfg.Password),
		res: resource.NewWithAttributes(semconv.SchemaURL,
			semconv.ServiceName(namespace+"/"+name),
			semconv.ServiceNamespace(namespace),
			semconv.ServiceInstanceID(uid),
		),
	}
	s.red.AddURL(cfg.Address)
	s.red.AddURL(cfg.Proxy)
	s.red.AddBasicAuth(cfg.Username, cfg.Password)
	auth := ""
	for k, v := range cfg.Headers {
		s.headers[k] = v
		if strings.EqualFold(k, "Authorization") {
			auth = v
		}
	}
	if auth == "" {
		switch {
		case cfg.Username != "" && cfg.Password != "":
			auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Password))
		case cfg.Username == "" && cfg.Password != "":
			auth = "Bearer " + cfg.Password
		case cfg.Token != "":
			auth = "Bearer " + cfg.Token
		}
		if auth != "" {
			s.headers["Authorization"] = auth
		}
	}
	if auth != "" {
		s.red.AddSecret(auth, strings.TrimSpace(auth[strings.IndexByte(auth+" ", ' '):]))
	}
	if s.timeout == 0 {
		s.timeout = defaultTimeout
	}
	if s.retry.Max == 0 {
		s.retry.Max = defaultRetries
	}
	if s.retry.MinWait == 0 {
		s.retry.MinWait = defaultMinWait
	}
	if s.retry.MaxWait == 0 {
		s.retry.MaxWait = defaultMaxWait
	}
	return s, nil
}

func configError(field, msg string) error {
	return fmt.Errorf("%w: %s: %s", provider.ErrInvalidConfig, field, msg)
}

// alertIdentity reads metadata.name, metadata.namespace and metadata.uid.
func alertIdentity(obj map[string]any) (name, namespace, uid string) {
	md, _ := obj["metadata"].(map[string]any)
	str := func(k string) string { v, _ := md[k].(string); return v }
	return str("name"), str("namespace"), str("uid")
}

// Post exports e as one span. Events about a HelmRepository are skipped.
func (s *sender) Post(ctx context.Context, e notify.Event) error {
	if e.InvolvedObject.Kind == "HelmRepository" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	span, err := s.span(ctx, e)
	if err != nil {
		return err
	}
	log := logr.FromContextOrDiscard(ctx)
	wait := s.retry.MinWait
	for attempt := 0; ; attempt++ {
		err := s.export(ctx, span)
		if err == nil {
			return nil
		}
		if !temporary(err) || attempt >= s.retry.Max || ctx.Err() != nil {
			return err
		}
		d := min(wait, s.retry.MaxWait)
		log.V(1).Info("retrying notification", "provider", provider.TypeOTel, "attempt", attempt+1, "wait", d, "error", err.Error())
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: giving up after %d attempts: %w (last error: %v)", provider.TypeOTel, attempt+1, ctx.Err(), err)
		case <-t.C:
		}
		wait *= 2
	}
}

// TraceID returns the trace ID of the spans of an Alert's events about a
// revision: the first 16 bytes of sha256("<alertUID>:<revision>"), as in
// Flux.
func TraceID(alertUID, revision string) trace.TraceID {
	sum := sha256.Sum256([]byte(alertUID + ":" + revision))
	var id trace.TraceID
	copy(id[:], sum[:16])
	return id
}

// Revision returns the revision an event is traced under:
// "<app-version>@<oci-digest>" when its metadata carry both, else its
// "revision" metadata, else "unknown", as in Flux.
func Revision(md map[string]string) string {
	digest, okDigest := md[metaOCIDigest]
	version, okVersion := md[metaAppVersion]
	if okDigest && okVersion {
		return version + "@" + digest
	}
	if r, ok := md[metaRevision]; ok {
		return r
	}
	return "unknown"
}

// collector keeps the spans that end.
type collector struct {
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan
}

func (c *collector) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (c *collector) OnEnd(s sdktrace.ReadOnlySpan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spans = append(c.spans, s)
}
func (c *collector) Shutdown(context.Context) error   { return nil }
func (c *collector) ForceFlush(context.Context) error { return nil }

// span records e as a finished span.
func (s *sender) span(ctx context.Context, e notify.Event) ([]sdktrace.ReadOnlySpan, error) {
	col := &collector{}
	// No WithResource and explicit limits: the SDK would read them from
	// OTEL_* environment variables. The resource is set on export.
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(col),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithRawSpanLimits(sdktrace.SpanLimits{
			AttributeValueLengthLimit:   -1,
			AttributeCountLimit:         -1,
			EventCountLimit:             -1,
			LinkCountLimit:              -1,
			AttributePerEventCountLimit: -1,
			AttributePerLinkCountLimit:  -1,
		}),
	)
	defer func() { _ = tp.Shutdown(ctx) }()
	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    TraceID(s.alertUID, Revision(e.Metadata)),
		TraceFlags: trace.FlagsSampled,
		Remote:     true,
	})
	// Flux documents sources as starting the trace and the others as
	// joining it; its parent carries the trace ID only, so every span of a
	// trace has no parent span, and so do ours.
	sctx := trace.ContextWithSpanContext(context.Background(), parent)
	attrs := []attribute.KeyValue{
		attribute.String("object.uid", e.InvolvedObject.UID),
		attribute.String("object.kind", e.InvolvedObject.Kind),
		attribute.String("object.name", e.InvolvedObject.Name),
		attribute.String("object.namespace", e.InvolvedObject.Namespace),
	}
	keys := make([]string, 0, len(e.Metadata))
	for k := range e.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		attrs = append(attrs, attribute.String(k, e.Metadata[k]))
	}
	name := fmt.Sprintf("%s: %s/%s", e.InvolvedObject.Kind, e.InvolvedObject.Namespace, e.InvolvedObject.Name)
	opts := []trace.SpanStartOption{trace.WithAttributes(attrs...)}
	if !e.Timestamp.IsZero() {
		opts = append(opts, trace.WithTimestamp(e.Timestamp))
	}
	_, span := tp.Tracer(ScopeName).Start(sctx, name, opts...)
	if e.Severity == notify.SeverityError {
		span.SetStatus(codes.Error, e.Message)
	} else {
		span.SetStatus(codes.Ok, e.Message)
	}
	span.End()
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.spans) != 1 {
		return nil, fmt.Errorf("%s: the span of the event was not recorded", provider.TypeOTel)
	}
	return []sdktrace.ReadOnlySpan{withResource{ReadOnlySpan: col.spans[0], res: s.res}}, nil
}

// withResource is a span with the Alert's resource, and only that.
type withResource struct {
	sdktrace.ReadOnlySpan
	res *resource.Resource
}

// Resource returns the Alert's resource.
func (w withResource) Resource() *resource.Resource { return w.res }

// statusError is an export answered with a non-2xx status.
type statusError = provider.StatusError

// exportError is an export that got no answer.
type exportError struct{ msg string }

func (e *exportError) Error() string { return e.msg }

func temporary(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	var ee *exportError
	return errors.As(err, &ee)
}

// recorder remembers the outcome of the exporter's request.
type recorder struct {
	base   http.RoundTripper
	status int
	err    error
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		r.err = err
		return nil, err
	}
	r.status = resp.StatusCode
	return resp, nil
}

// export sends spans once, with the exporter's own retries disabled.
func (s *sender) export(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	rec := &recorder{base: s.rt}
	exp, err := otlptracehttp.New(ctx,
		otlptracehttp.WithEndpointURL(s.endpoint),
		otlptracehttp.WithHeaders(s.headers),
		otlptracehttp.WithHTTPClient(&http.Client{Transport: rec}),
		otlptracehttp.WithCompression(otlptracehttp.NoCompression),
		otlptracehttp.WithTimeout(s.timeout),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}),
	)
	if err != nil {
		return fmt.Errorf("%s: creating the exporter: %s", provider.TypeOTel, s.red.Redact(err.Error()))
	}
	defer func() { _ = exp.Shutdown(context.WithoutCancel(ctx)) }()
	err = exp.ExportSpans(ctx, spans)
	switch {
	case err == nil:
		return nil
	case rec.status != 0 && (rec.status < 200 || rec.status > 299):
		return &statusError{Type: provider.TypeOTel, Method: http.MethodPost, StatusCode: rec.status}
	case rec.err != nil:
		if ctx.Err() != nil {
			return fmt.Errorf("%s: POST request failed: %w", provider.TypeOTel, ctx.Err())
		}
		msg := fmt.Sprintf("%s: POST request failed: %s", provider.TypeOTel, s.red.Redact(stripURL(rec.err).Error()))
		var ue x509.UnknownAuthorityError
		var he x509.HostnameError
		var ce x509.CertificateInvalidError
		if errors.As(rec.err, &ue) || errors.As(rec.err, &he) || errors.As(rec.err, &ce) {
			// A certificate does not get better by asking again.
			return errors.New(msg)
		}
		return &exportError{msg: msg}
	default:
		return fmt.Errorf("%s: export failed: %s", provider.TypeOTel, s.red.Redact(err.Error()))
	}
}

func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
