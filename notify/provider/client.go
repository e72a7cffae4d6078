package provider

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/gitopskit/gitopskit/source"
)

// Defaults, as in Flux's notification-controller.
const (
	defaultTimeout    = 15 * time.Second
	defaultRetries    = 4
	defaultMinWait    = 2 * time.Second
	defaultMaxWait    = 30 * time.Second
	maxErrorBody      = 1 << 10
	maxResponseBody   = 1 << 20
	userAgent         = "gitopskit-notification"
	contentTypeJSON   = "application/json"
	contentTypeForm   = "application/x-www-form-urlencoded"
	headerNotifyComp  = "Gotk-Component"
	headerHMACSigning = "X-Signature"
)

// StatusError is the error of a request answered with a non-2xx status.
// Body is the start of the response body with every configured secret
// masked.
type StatusError struct {
	// Type is the provider type.
	Type string
	// Method is the request method.
	Method string
	// StatusCode is the HTTP status code.
	StatusCode int
	// Body is the (redacted, truncated) response body.
	Body string
}

// Error returns a description that names neither the URL nor a secret.
func (e *StatusError) Error() string {
	s := fmt.Sprintf("%s: %s request failed with status %d", e.Type, e.Method, e.StatusCode)
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// Temporary reports whether the status is worth retrying (5xx but 501,
// and 429).
func (e *StatusError) Temporary() bool { return retryableStatus(e.StatusCode) }

func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || (code >= 500 && code != http.StatusNotImplemented)
}

// client sends requests for one provider: retries, redaction, defaults.
type client struct {
	typ     string
	hc      *http.Client
	headers map[string]string
	retry   Retry
	timeout time.Duration

	// redMu guards red: credentials minted while posting (installation
	// tokens, access tokens, signed assertions) are added concurrently.
	redMu sync.RWMutex
	red   *source.Redactor
}

// redact masks every secret known to the client in s.
func (c *client) redact(s string) string {
	c.redMu.RLock()
	defer c.redMu.RUnlock()
	return c.red.Redact(s)
}

// addSecret adds credentials obtained after construction to the mask.
func (c *client) addSecret(values ...string) {
	c.redMu.Lock()
	defer c.redMu.Unlock()
	c.red.AddSecret(values...)
}

func newClient(cfg *Config) (*client, error) {
	rt := cfg.Transport
	if rt != nil && (cfg.Proxy != "" || cfg.TLSConfig != nil) {
		return nil, configError("Transport", "cannot be combined with Proxy or TLSConfig")
	}
	if rt == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil
		if cfg.Proxy != "" {
			u, err := url.Parse(cfg.Proxy)
			if err != nil || u.Host == "" {
				return nil, configError("Proxy", "is not a URL")
			}
			tr.Proxy = http.ProxyURL(u)
		}
		if cfg.TLSConfig != nil {
			tr.TLSClientConfig = cfg.TLSConfig.Clone()
		}
		rt = tr
	}
	if cfg.Timeout < 0 {
		return nil, configError("Timeout", "must not be negative")
	}
	if cfg.Retry.MinWait < 0 || cfg.Retry.MaxWait < 0 {
		return nil, configError("Retry", "waits must not be negative")
	}
	r := cfg.Retry
	if r.Max == 0 {
		r.Max = defaultRetries
	}
	if r.MinWait == 0 {
		r.MinWait = defaultMinWait
	}
	if r.MaxWait == 0 {
		r.MaxWait = defaultMaxWait
	}
	t := cfg.Timeout
	if t == 0 {
		t = defaultTimeout
	}
	return &client{
		typ:     cfg.Type,
		hc:      &http.Client{Transport: rt},
		headers: cfg.Headers,
		retry:   r,
		timeout: t,
		red:     redactorFor(cfg),
	}, nil
}

// request is one call to make.
type request struct {
	method  string
	url     string
	body    []byte
	ctype   string
	headers map[string]string
	// basic, when set, is sent as basic authentication.
	basic *[2]string
	// out, when set, receives the decoded JSON response of a 2xx answer.
	out any
	// accept lists non-2xx statuses that are not errors (their body is not
	// decoded); the status is returned.
	accept []int
	// check validates a 2xx response body (Slack's chat.postMessage
	// answers 200 with ok=false).
	check func(body []byte) error
}

// postJSON marshals payload and POSTs it.
func (c *client) postJSON(ctx context.Context, u string, payload any, headers map[string]string) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("%s: encoding payload: %w", c.typ, err)
	}
	_, err = c.do(ctx, request{method: http.MethodPost, url: u, body: b, ctype: contentTypeJSON, headers: headers})
	return err
}

// jsonRequest is a request with a JSON body (or none when payload is nil).
func (c *client) jsonRequest(ctx context.Context, method, u string, payload any, headers map[string]string, out any, accept ...int) (int, error) {
	r := request{method: method, url: u, headers: headers, out: out, accept: accept}
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return 0, fmt.Errorf("%s: encoding payload: %w", c.typ, err)
		}
		r.body, r.ctype = b, contentTypeJSON
	}
	return c.do(ctx, r)
}

// do sends r, retrying temporary failures with exponential backoff. It
// returns the final status code.
func (c *client) do(ctx context.Context, r request) (int, error) {
	log := logr.FromContextOrDiscard(ctx)
	wait := c.retry.MinWait
	for attempt := 0; ; attempt++ {
		code, retryAfter, err := c.once(ctx, r)
		if err == nil {
			return code, nil
		}
		if !c.temporary(err) || attempt >= c.retry.Max || ctx.Err() != nil {
			return code, err
		}
		d := min(wait, c.retry.MaxWait)
		if retryAfter > 0 {
			d = min(retryAfter, c.retry.MaxWait)
		}
		log.V(1).Info("retrying notification", "provider", c.typ, "attempt", attempt+1, "wait", d, "error", err.Error())
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return code, fmt.Errorf("%s: giving up after %d attempts: %w (last error: %v)", c.typ, attempt+1, ctx.Err(), err)
		case <-t.C:
		}
		wait *= 2
	}
}

// temporary reports whether err is worth retrying.
func (c *client) temporary(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	var te *transportError
	if errors.As(err, &te) {
		var ue *x509.UnknownAuthorityError
		var he x509.HostnameError
		var ce x509.CertificateInvalidError
		return !errors.As(te.err, &ue) && !errors.As(te.err, &he) && !errors.As(te.err, &ce) &&
			!errors.Is(te.err, context.Canceled) && !errors.Is(te.err, context.DeadlineExceeded)
	}
	return false
}

// transportError is a failure to get a response at all.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// once sends r one time.
func (c *client) once(ctx context.Context, r request) (code int, retryAfter time.Duration, err error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: building request: %s", c.typ, c.redact(stripURL(err).Error()))
	}
	req.Header.Set("User-Agent", userAgent)
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	if r.basic != nil {
		req.SetBasicAuth(r.basic[0], r.basic[1])
	}
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, 0, &transportError{err: fmt.Errorf("%s: %s request failed: %s", c.typ, r.method, c.redact(stripURL(err).Error()))}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		for _, a := range r.accept {
			if a == resp.StatusCode {
				return resp.StatusCode, 0, nil
			}
		}
		b := data
		if len(b) > maxErrorBody {
			b = b[:maxErrorBody]
		}
		se := &StatusError{Type: c.typ, Method: r.method, StatusCode: resp.StatusCode, Body: c.redact(string(bytes.TrimSpace(b)))}
		return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After")), se
	}
	if r.check != nil {
		if err := r.check(data); err != nil {
			return resp.StatusCode, 0, fmt.Errorf("%s: %s", c.typ, c.redact(err.Error()))
		}
	}
	if r.out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, r.out); err != nil {
			return resp.StatusCode, 0, fmt.Errorf("%s: decoding response: %s", c.typ, c.redact(err.Error()))
		}
	}
	return resp.StatusCode, 0, nil
}

// stripURL drops the URL net/http puts in its errors: a webhook URL is a
// credential.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// parseRetryAfter reads a Retry-After header given in seconds.
func parseRetryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 0
}
