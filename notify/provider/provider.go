package provider

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gitopskit/gitopskit/notify"
	"github.com/gitopskit/gitopskit/source"
)

// Provider types, spelled as Flux's Provider .spec.type.
const (
	TypeGeneric                   = "generic"
	TypeGenericHMAC               = "generic-hmac"
	TypeSlack                     = "slack"
	TypeMSTeams                   = "msteams"
	TypeDiscord                   = "discord"
	TypeRocket                    = "rocket"
	TypeGoogleChat                = "googlechat"
	TypeLark                      = "lark"
	TypeWebex                     = "webex"
	TypeMatrix                    = "matrix"
	TypeTelegram                  = "telegram"
	TypeZulip                     = "zulip"
	TypeZoom                      = "zoom"
	TypeDataDog                   = "datadog"
	TypeSentry                    = "sentry"
	TypeOpsgenie                  = "opsgenie"
	TypePagerDuty                 = "pagerduty"
	TypeAlertmanager              = "alertmanager"
	TypeIncidentio                = "incident.io"
	TypeGrafana                   = "grafana"
	TypeGitHubDispatch            = "githubdispatch"
	TypeGitHub                    = "github"
	TypeGitLab                    = "gitlab"
	TypeGitea                     = "gitea"
	TypeBitbucket                 = "bitbucket"
	TypeBitbucketServer           = "bitbucketserver"
	TypeAzureDevOps               = "azuredevops"
	TypeGitHubPullRequestComment  = "githubpullrequestcomment"
	TypeGitLabMergeRequestComment = "gitlabmergerequestcomment"
	TypeGiteaPullRequestComment   = "giteapullrequestcomment"
	// TypeGooglePubSub publishes on a Google Pub/Sub topic through its
	// REST API (Address is the project ID, Channel the topic ID).
	TypeGooglePubSub = "googlepubsub"
	// TypeAzureEventHub sends to an Azure Event Hub through its REST API
	// (Address is a connection string, or the hub's name with the
	// namespace in Channel and an Azure AD token in Token).
	TypeAzureEventHub = "azureeventhub"
	// TypeOTel exports spans to an OpenTelemetry collector; it is served
	// by the otelprovider package (see WithConstructor), not by New alone.
	TypeOTel = "otel"
	// TypeNATS publishes on a NATS subject; it is served by the
	// natsprovider package (see WithConstructor), not by New alone.
	TypeNATS = "nats"
)

// Metadata keys this package reads besides notify.MetaRevisionKey, with
// Flux's names.
const (
	// MetaCommitKey holds a Git commit; it is preferred to the revision.
	MetaCommitKey = "commit"
	// MetaOriginRevisionKey holds the revision of the origin source.
	MetaOriginRevisionKey = "originRevision"
	// MetaChangeRequestKey holds the number of the pull or merge request
	// that change-request providers comment on.
	MetaChangeRequestKey = "change_request"
	// MetaSummaryKey holds an alert's summary.
	MetaSummaryKey = "summary"
)

// reasonProgressing is Flux's meta.ProgressingReason; several providers
// skip events with it, as Flux does.
const reasonProgressing = "Progressing"

// ErrInvalidConfig is wrapped by every error New returns for a Config it
// cannot use; the error text names the field.
var ErrInvalidConfig = errors.New("invalid provider configuration")

// ErrUnsupportedType is wrapped by New's error for a Type this package does
// not implement (unknown, or one delivered through a vendor SDK: nats,
// otel). The natsprovider and otelprovider packages serve nats and otel
// through WithConstructor.
var ErrUnsupportedType = errors.New("unsupported provider type")

// ErrNoRevision is wrapped by the error a commit-status provider returns for
// an event without a revision (metadata "commit", "originRevision" or
// "revision"), or whose revision holds no commit hash.
var ErrNoRevision = errors.New("event has no commit revision")

// ErrNoChangeRequest is wrapped by the error a change-request provider
// returns for an event without a valid "change_request" metadata value.
var ErrNoChangeRequest = errors.New("event has no change request")

// Sender delivers events to one configured provider.
type Sender interface {
	// Post delivers e. It retries on 5xx, 429 and transport errors with
	// backoff, never on other 4xx, and stops when ctx is done.
	Post(ctx context.Context, e notify.Event) error
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, e notify.Event) error

// Post calls f.
func (f SenderFunc) Post(ctx context.Context, e notify.Event) error { return f(ctx, e) }

// Retry configures retries of failed requests. The zero value means Flux's
// policy: 4 retries, waiting 2s, 4s, 8s, … up to 30s.
type Retry struct {
	// Max is the number of retries after the first attempt; zero means 4,
	// a negative value disables retries.
	Max int
	// MinWait is the first wait; zero means 2s. Each wait doubles.
	MinWait time.Duration
	// MaxWait caps a wait (and a server's Retry-After); zero means 30s.
	MaxWait time.Duration
}

// Config describes a provider the way Flux's Provider object and its
// Secret do.
type Config struct {
	// Type is one of the Type constants. Required.
	Type string
	// Address is the endpoint: a webhook URL, an API URL or a repository
	// URL, depending on Type. Webhook URLs are treated as credentials.
	Address string
	// Channel is the channel, room, stream/topic, environment or
	// routing key, depending on Type.
	Channel string
	// Username is the user name shown by chat providers or used for
	// basic authentication.
	Username string
	// Password is used for basic authentication (zulip, alertmanager,
	// grafana, bitbucketserver) and as the token of Git providers when
	// Token is empty.
	Password string
	// Token is the API token, bot token, routing key or HMAC key,
	// depending on Type.
	Token string
	// SecretData holds the other keys of the provider's Secret, for types
	// that read more than the fields above (nats: "creds", a user
	// credentials file, and "nkey", an NKey seed; github, githubdispatch
	// and githubpullrequestcomment: the GitHub App keys, see
	// SecretKeyGitHubAppID). Its values are secrets.
	SecretData map[string][]byte
	// Headers are added to every request; the provider's own
	// authentication headers take precedence.
	Headers map[string]string
	// Proxy is an HTTP(S) proxy URL. Environment proxy settings are not
	// consulted.
	Proxy string
	// TLSConfig carries a custom CA pool and client certificates; nil
	// means the system roots.
	TLSConfig *tls.Config
	// Transport, when set, is used as is for every request instead of one
	// built from Proxy and TLSConfig, which must then be empty.
	Transport http.RoundTripper
	// Timeout bounds one Post, retries included; zero means 15s, as in
	// Flux.
	Timeout time.Duration
	// Retry is the retry policy; the zero value is Flux's.
	Retry Retry

	// ProviderUID is the UID of the Provider object. Commit-status types
	// use its first segment in the default commit-status key, opsgenie in
	// its alias and change-request types in their comment marker.
	ProviderUID string
	// CommitStatusExpr is a CEL expression over event, provider and alert
	// that evaluates to the commit-status key (commit-status types only).
	CommitStatusExpr string
	// ProviderObject is the provider object as the CEL variable
	// "provider" sees it (for example an unstructured Provider); nil is an
	// empty map.
	ProviderObject map[string]any
	// AlertObject is the alert object as the CEL variable "alert" sees it;
	// nil is an empty map.
	AlertObject map[string]any

	// TokenCache shares the access tokens that Senders mint from
	// long-lived credentials (GitHub App keys, Google service-account
	// keys) among all Senders given the same cache, until shortly before
	// the tokens expire. nil gives each Sender a cache of its own: a
	// program that builds a Sender per event should pass one cache.
	TokenCache *TokenCache
}

// IsCommitStatus reports whether typ sets commit statuses (github, gitlab,
// gitea, bitbucket, bitbucketserver, azuredevops). Such providers act only
// on events with a revision.
func IsCommitStatus(typ string) bool {
	return slices.Contains([]string{TypeGitHub, TypeGitLab, TypeGitea, TypeBitbucket, TypeBitbucketServer, TypeAzureDevOps}, typ)
}

// IsChangeRequest reports whether typ comments on change requests. Such
// providers act only on events with MetaChangeRequestKey.
func IsChangeRequest(typ string) bool {
	return slices.Contains([]string{TypeGitHubPullRequestComment, TypeGitLabMergeRequestComment, TypeGiteaPullRequestComment}, typ)
}

// Types returns the provider types New accepts, sorted.
func Types() []string {
	t := []string{TypeGeneric, TypeGenericHMAC, TypeSlack, TypeMSTeams, TypeDiscord, TypeRocket,
		TypeGoogleChat, TypeLark, TypeWebex, TypeMatrix, TypeTelegram, TypeZulip, TypeZoom,
		TypeDataDog, TypeSentry, TypeOpsgenie, TypePagerDuty, TypeAlertmanager, TypeIncidentio,
		TypeGrafana, TypeGitHubDispatch, TypeGitHub, TypeGitLab, TypeGitea, TypeBitbucket,
		TypeBitbucketServer, TypeAzureDevOps, TypeGitHubPullRequestComment,
		TypeGitLabMergeRequestComment, TypeGiteaPullRequestComment, TypeGooglePubSub, TypeAzureEventHub}
	slices.Sort(t)
	return t
}

// configError names the invalid field.
func configError(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}

// Constructor builds the Sender of one provider type from its Config. It
// must do no I/O and, like New, return errors that wrap ErrInvalidConfig
// and contain no secret.
type Constructor func(Config) (Sender, error)

// Option configures New.
type Option func(*options)

type options struct {
	constructors map[string]Constructor
}

// WithConstructor makes New serve typ with c, taking precedence over this
// package's own implementation of typ. Types whose client would make every
// program that imports this package link a vendor SDK live in their own
// packages and come in this way, for example:
//
//	provider.New(cfg, natsprovider.Option())
func WithConstructor(typ string, c Constructor) Option {
	return func(o *options) {
		if o.constructors == nil {
			o.constructors = map[string]Constructor{}
		}
		o.constructors[typ] = c
	}
}

// New returns the Sender for cfg. It does no I/O. Its errors wrap
// ErrInvalidConfig (naming the field) or ErrUnsupportedType, and never
// contain the token, password or address. Options add types served by
// other packages (see WithConstructor).
func New(cfg Config, opts ...Option) (Sender, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if ctor, ok := o.constructors[cfg.Type]; ok && cfg.Type != "" && ctor != nil {
		return ctor(cfg)
	}
	c, err := newClient(&cfg)
	if err != nil {
		return nil, err
	}
	var s Sender
	switch cfg.Type {
	case TypeGeneric, TypeGenericHMAC:
		s, err = newGeneric(c, &cfg)
	case TypeSlack, TypeDiscord, TypeRocket:
		s, err = newSlackLike(c, &cfg)
	case TypeMSTeams:
		s, err = newMSTeams(c, &cfg)
	case TypeGoogleChat:
		s, err = newWebhook(c, &cfg, googleChatPayload)
	case TypeLark:
		s, err = newWebhook(c, &cfg, larkPayload)
	case TypeWebex:
		s, err = newWebex(c, &cfg)
	case TypeMatrix:
		s, err = newMatrix(c, &cfg)
	case TypeTelegram:
		s, err = newTelegram(c, &cfg)
	case TypeZulip:
		s, err = newZulip(c, &cfg)
	case TypeZoom:
		s, err = newZoom(c, &cfg)
	case TypeDataDog:
		s, err = newDataDog(c, &cfg)
	case TypeSentry:
		s, err = newSentry(c, &cfg)
	case TypeOpsgenie:
		s, err = newOpsgenie(c, &cfg)
	case TypePagerDuty:
		s, err = newPagerDuty(c, &cfg)
	case TypeAlertmanager:
		s, err = newAlertmanager(c, &cfg)
	case TypeIncidentio:
		s, err = newIncidentio(c, &cfg)
	case TypeGrafana:
		s, err = newGrafana(c, &cfg)
	case TypeGitHubDispatch:
		s, err = newGitHubDispatch(c, &cfg)
	case TypeGooglePubSub:
		s, err = newGooglePubSub(c, &cfg)
	case TypeAzureEventHub:
		s, err = newAzureEventHub(c, &cfg)
	case TypeGitHub, TypeGitLab, TypeGitea, TypeBitbucket, TypeBitbucketServer, TypeAzureDevOps:
		s, err = newCommitStatus(c, &cfg)
	case TypeGitHubPullRequestComment, TypeGitLabMergeRequestComment, TypeGiteaPullRequestComment:
		s, err = newChangeRequestComment(c, &cfg)
	case "":
		return nil, configError("Type", "is required")
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedType, cfg.Type)
	}
	if err != nil {
		return nil, err
	}
	return &timed{s: s, timeout: c.timeout}, nil
}

// timed bounds each Post with the configured timeout.
type timed struct {
	s       Sender
	timeout time.Duration
}

func (t *timed) Post(ctx context.Context, e notify.Event) error {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	return t.s.Post(ctx, e)
}

// requireURL parses an http(s) address, naming the field in its error
// without echoing the value (it may be a credential).
func requireURL(field, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, configError(field, "is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, configError(field, "is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, configError(field, "must be an http or https URL")
	}
	if u.Host == "" {
		return nil, configError(field, "has no host")
	}
	return u, nil
}

// objectName is Flux's "<kind>/<name>.<namespace>" with the kind
// lowercased.
func objectName(e *notify.Event) string {
	o := e.InvolvedObject
	return fmt.Sprintf("%s/%s.%s", strings.ToLower(o.Kind), o.Name, o.Namespace)
}

// sortedKeys returns the metadata keys in order, so payloads are
// deterministic (Flux iterates the map).
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// redactorFor collects the secrets of cfg: token, password, the address
// and its path and query, proxy credentials and sensitive header values.
func redactorFor(cfg *Config) *source.Redactor {
	r := source.NewRedactor(cfg.Token, cfg.Password)
	// A repository address names a repository, not a credential: only its
	// userinfo is secret.
	repoType := IsCommitStatus(cfg.Type) || IsChangeRequest(cfg.Type) || cfg.Type == TypeGitHubDispatch
	for _, raw := range []string{cfg.Address, cfg.Proxy} {
		if raw == "" {
			continue
		}
		repoAddress := repoType && raw == cfg.Address
		if !repoAddress {
			r.AddSecret(raw)
		}
		r.AddURL(raw)
		if u, err := url.Parse(raw); err == nil {
			if p := strings.Trim(u.EscapedPath(), "/"); len(p) >= 3 && !repoAddress {
				r.AddSecret(p, u.Path)
			}
			if u.RawQuery != "" && !repoAddress {
				r.AddSecret(u.RawQuery)
			}
			if u.User != nil {
				pw, _ := u.User.Password()
				r.AddBasicAuth(u.User.Username(), pw)
				r.AddSecret(u.User.Username())
			}
		}
	}
	for k, v := range cfg.Headers {
		lk := strings.ToLower(k)
		for _, s := range []string{"auth", "token", "key", "secret", "signature", "cookie", "password"} {
			if strings.Contains(lk, s) {
				r.AddSecret(v)
				if _, cred, ok := strings.Cut(v, " "); ok {
					r.AddSecret(cred)
				}
				break
			}
		}
	}
	return r
}
