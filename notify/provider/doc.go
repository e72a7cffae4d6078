// Package provider delivers notify.Event values to the services Flux's
// notification-controller supports, with Flux's wire formats: generic
// webhooks (optionally signed with an X-Signature HMAC), chat services
// (Slack, Microsoft Teams, Discord, Rocket.Chat, Google Chat, Lark, Webex,
// Matrix, Telegram, Zulip, Zoom), alerting and observability services
// (Datadog, Sentry, Opsgenie, PagerDuty, Alertmanager, incident.io,
// Grafana), GitHub repository dispatch, commit statuses on GitHub, GitLab,
// Gitea, Bitbucket, Bitbucket Server and Azure DevOps, and change-request
// comments on GitHub, GitLab and Gitea.
//
// New turns a Config (Flux's Provider fields and Secret keys) into a
// Sender. Every provider speaks plain HTTP and JSON through net/http: no
// vendor SDK is linked. Types whose protocol is not plain HTTP (nats,
// googlepubsub, azureeventhub, otel) are not served here: their clients
// live in sub-packages (natsprovider for nats) that New takes through
// WithConstructor, so only programs that use them link their SDKs.
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
