package natsprovider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/gitopskit/gitopskit/notify"
	"github.com/gitopskit/gitopskit/notify/provider"
	"github.com/gitopskit/gitopskit/source"
)

// Defaults, as in Flux's notification-controller.
const (
	defaultTimeout = 15 * time.Second
	defaultRetries = 4
	defaultMinWait = 2 * time.Second
	defaultMaxWait = 30 * time.Second
	clientName     = "gitopskit-notification"
)

// Keys of Config.SecretData this package reads, as Flux names them in the
// provider's Secret.
const (
	// SecretKeyCreds holds a NATS user credentials file (the user JWT and
	// its NKey seed, as nsc writes it).
	SecretKeyCreds = "creds"
	// SecretKeyNKey holds a user NKey seed.
	SecretKeyNKey = "nkey"
)

// ErrAuth is wrapped by the error of a Post the server refused for its
// credentials or permissions (authentication failed, authorization
// violation, permissions violation on the subject). Such errors are not
// retried.
var ErrAuth = errors.New("nats: not authorized")

// Option returns the provider.Option that makes provider.New serve
// provider.TypeNATS with New.
func Option() provider.Option {
	return provider.WithConstructor(provider.TypeNATS, New)
}

// New returns the Sender publishing to the NATS server at cfg.Address on
// the subject cfg.Channel. It does no I/O. Its errors wrap
// provider.ErrInvalidConfig, naming the field, and contain no secret.
func New(cfg provider.Config) (provider.Sender, error) {
	if cfg.Type != "" && cfg.Type != provider.TypeNATS {
		return nil, fmt.Errorf("%w: %q", provider.ErrUnsupportedType, cfg.Type)
	}
	if cfg.Address == "" {
		return nil, configError("Address", "is required")
	}
	if cfg.Channel == "" {
		return nil, configError("Channel", "is required (the NATS subject)")
	}
	if strings.ContainsAny(cfg.Channel, " \t\r\n") {
		return nil, configError("Channel", "is not a valid NATS subject")
	}
	for _, server := range strings.Split(cfg.Address, ",") {
		u, err := url.Parse(strings.TrimSpace(server))
		if err != nil || u.Host == "" {
			return nil, configError("Address", "is not a NATS server URL (nats://host:port)")
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return nil, configError("Address", "must be a nats, tls, ws or wss URL")
		}
	}
	if cfg.Proxy != "" {
		return nil, configError("Proxy", "is not supported: an HTTP proxy cannot carry NATS")
	}
	if cfg.Timeout < 0 {
		return nil, configError("Timeout", "must not be negative")
	}
	if cfg.Retry.MinWait < 0 || cfg.Retry.MaxWait < 0 {
		return nil, configError("Retry", "waits must not be negative")
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		return nil, configError("Username", "and Password must be set together")
	}
	s := &sender{
		address: cfg.Address,
		subject: cfg.Channel,
		timeout: cfg.Timeout,
		retry:   cfg.Retry,
		headers: cfg.Headers,
		red:     source.NewRedactor(cfg.Token, cfg.Password),
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
	s.red.AddURL(cfg.Address)
	s.red.AddBasicAuth(cfg.Username, cfg.Password)
	s.opts = []nats.Option{nats.Name(clientName), nats.NoReconnect(), nats.NoCallbacksAfterClientClose()}
	creds, seed := cfg.SecretData[SecretKeyCreds], cfg.SecretData[SecretKeyNKey]
	s.red.AddSecret(string(creds), string(seed))
	switch {
	case len(creds) > 0:
		if _, err := nkeys.ParseDecoratedJWT(creds); err != nil {
			return nil, configError("SecretData", "creds is not a NATS user credentials file")
		}
		kp, err := nkeys.ParseDecoratedUserNKey(creds)
		if err != nil {
			return nil, configError("SecretData", "creds holds no user NKey seed")
		}
		if seed, err := kp.Seed(); err == nil {
			s.red.AddSecret(string(seed))
		}
		kp.Wipe()
		s.opts = append(s.opts, nats.UserCredentialBytes(bytes.Clone(creds)))
	case len(seed) > 0:
		kp, err := nkeys.FromSeed(bytes.TrimSpace(seed))
		if err != nil {
			return nil, configError("SecretData", "nkey is not an NKey seed")
		}
		pub, err := kp.PublicKey()
		if err != nil || !nkeys.IsValidPublicUserKey(pub) {
			return nil, configError("SecretData", "nkey is not a user NKey seed")
		}
		s.opts = append(s.opts, nats.Nkey(pub, kp.Sign))
	case cfg.Username != "":
		s.opts = append(s.opts, nats.UserInfo(cfg.Username, cfg.Password))
	case cfg.Token != "":
		s.opts = append(s.opts, nats.Token(cfg.Token))
	}
	if cfg.TLSConfig != nil {
		s.opts = append(s.opts, nats.Secure(cfg.TLSConfig.Clone()))
	}
	return s, nil
}

func configError(field, msg string) error {
	return fmt.Errorf("%w: %s: %s", provider.ErrInvalidConfig, field, msg)
}

// sender publishes events on one subject.
type sender struct {
	address string
	subject string
	timeout time.Duration
	retry   provider.Retry
	headers map[string]string
	opts    []nats.Option
	red     *source.Redactor
}

// Post publishes e's JSON payload on the subject, retrying connection
// failures with backoff.
func (s *sender) Post(ctx context.Context, e notify.Event) error {
	payload, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("nats: encoding event: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	log := logr.FromContextOrDiscard(ctx)
	wait := s.retry.MinWait
	for attempt := 0; ; attempt++ {
		err := s.publish(ctx, payload)
		if err == nil {
			log.V(1).Info("event published", "provider", provider.TypeNATS, "subject", s.subject)
			return nil
		}
		if errors.Is(err, ErrAuth) || attempt >= s.retry.Max || ctx.Err() != nil {
			return err
		}
		d := min(wait, s.retry.MaxWait)
		log.V(1).Info("retrying notification", "provider", provider.TypeNATS, "attempt", attempt+1, "wait", d, "error", err.Error())
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("nats: giving up after %d attempts: %w (last error: %v)", attempt+1, ctx.Err(), err)
		case <-t.C:
		}
		wait *= 2
	}
}

// publish connects, publishes, flushes and disconnects.
func (s *sender) publish(ctx context.Context, payload []byte) error {
	opts := s.opts
	if dl, ok := ctx.Deadline(); ok {
		opts = append(opts[:len(opts):len(opts)], nats.Timeout(max(time.Until(dl), time.Millisecond)))
	}
	nc, err := nats.Connect(s.address, opts...)
	if err != nil {
		return s.wrap("connecting", err)
	}
	defer nc.Close()
	msg := nats.NewMsg(s.subject)
	msg.Data = payload
	for k, v := range s.headers {
		msg.Header.Set(k, v)
	}
	if err := nc.PublishMsg(msg); err != nil {
		return s.wrap("publishing", err)
	}
	if err := nc.FlushWithContext(ctx); err != nil {
		return s.wrap("publishing", err)
	}
	if err := nc.LastError(); err != nil {
		return s.wrap("publishing", err)
	}
	return nil
}

// wrap builds an error whose text is redacted; authentication and
// permission failures wrap ErrAuth, a context's end wraps its error.
func (s *sender) wrap(op string, err error) error {
	msg := s.red.Redact(err.Error())
	switch {
	case isAuthError(err):
		return fmt.Errorf("%w: %s: %s", ErrAuth, op, msg)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("nats: %s: %w", op, context.DeadlineExceeded)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("nats: %s: %w", op, context.Canceled)
	}
	return fmt.Errorf("nats: %s: %s", op, msg)
}

func isAuthError(err error) bool {
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired) ||
		errors.Is(err, nats.ErrPermissionViolation) {
		return true
	}
	l := strings.ToLower(err.Error())
	return strings.Contains(l, "authorization violation") || strings.Contains(l, "permissions violation") ||
		strings.Contains(l, "authentication")
}
