// Package provider delivers notify.Event values to the services Flux's
// notification-controller supports, with Flux's wire formats: generic
// webhooks (optionally signed with an X-Signature HMAC), chat services
// (Slack, Microsoft Teams, Discord, Rocket.Chat, Google Chat, Lark, Webex,
// Matrix, Telegram, Zulip, Zoom), alerting and observability services
// (Datadog, Sentry, Opsgenie, PagerDuty, Alertmanager, incident.io,
// Grafana), GitHub repository dispatch, commit statuses on GitHub, GitLab,
// Gitea, Bitbucket, Bitbucket Server and Azure DevOps, change-request
// comments on GitHub, GitLab and Gitea, and Google Pub/Sub topics.
//
// New turns a Config (Flux's Provider fields and Secret keys) into a
// Sender. Every provider speaks plain HTTP and JSON through net/http: no
// vendor SDK is linked. Types whose protocol is not plain HTTP (nats,
// azureeventhub, otel) are not served here: their clients live in
// sub-packages (natsprovider for nats, otelprovider for otel) that New
// takes through WithConstructor, so only programs that use them link their
// SDKs.
//
// Google Pub/Sub is served with its documented REST API rather than its
// SDK, which would bring gRPC and Google's client libraries: like Flux, a
// googlepubsub provider publishes the event's JSON payload as the data of
// one message on the topic named by Channel in the project named by
// Address, with Headers as the message's attributes. Token is sent as an
// OAuth 2.0 access token; unlike Flux, JSON service-account credentials
// and workload identity are not exchanged for one here (a Config whose
// Token holds JSON credentials is refused): give an access token, or a
// Transport that authenticates its requests, which may also send them to
// the Pub/Sub emulator. Beyond Flux, Proxy and TLSConfig apply.
//
// Delivery retries transport errors, 5xx (except 501) and 429 with
// exponential backoff (Flux's policy by default: 4 retries, 2s to 30s,
// honouring Retry-After), never other 4xx, and stops when the context
// ends; Config.Timeout bounds a whole Post (15s by default).
//
// Webhook URLs are credentials: errors never contain the address, the
// token, the password or sensitive header values, even when a server
// echoes them back (see source.Redactor).
//
// Commit-status providers act only on events whose metadata carries a
// revision ("commit", "originRevision" or "revision", looked up in that
// order); other events yield an error wrapping ErrNoRevision. Like Flux,
// they skip Progressing events, except Gitea, which reports them as
// pending. The status key defaults to DefaultCommitStatus and may be
// computed by a CEL expression over event, provider and alert
// (Config.CommitStatusExpr). Change-request providers keep one comment per
// object on the change request named by the event's "change_request"
// metadata, finding it by CommentMarker and updating it in place.
//
// Where this package differs from Flux it says so: metadata appear in
// payloads sorted by key (Flux follows map order); Slack's
// chat.postMessage answer is checked on any host serving that path; a
// Telegram Address selects a Bot API server of one's own.
package provider
