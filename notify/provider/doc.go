// Package provider delivers notify.Event values to the services Flux's
// notification-controller supports, with Flux's wire formats: generic
// webhooks (optionally signed with an X-Signature HMAC), chat services
// (Slack, Microsoft Teams, Discord, Rocket.Chat, Google Chat, Lark, Webex,
// Matrix, Telegram, Zulip, Zoom), alerting and observability services
// (Datadog, Sentry, Opsgenie, PagerDuty, Alertmanager, incident.io,
// Grafana), GitHub repository dispatch, commit statuses on GitHub, GitLab,
// Gitea, Bitbucket, Bitbucket Server and Azure DevOps, change-request
// comments on GitHub, GitLab and Gitea, Google Pub/Sub topics and Azure
// Event Hubs.
//
// New turns a Config (Flux's Provider fields and Secret keys) into a
// Sender. Every provider speaks plain HTTP and JSON through net/http: no
// vendor SDK is linked. Types whose protocol is not plain HTTP (nats,
// otel) are not served here: their clients live in sub-packages
// (natsprovider for nats, otelprovider for otel) that New takes through
// WithConstructor, so only programs that use them link their SDKs.
//
// Google Pub/Sub is served with its documented REST API rather than its
// SDK, which would bring gRPC and Google's client libraries: like Flux, a
// googlepubsub provider publishes the event's JSON payload as the data of
// one message on the topic named by Channel in the project named by
// Address, with Headers as the message's attributes. As in Flux, Token
// may hold a JSON service-account key: it is exchanged for an access token
// with the OAuth 2.0 JWT-bearer grant at the key's token_uri (an RS256
// assertion signed with crypto/rsa), and the token is cached until five
// minutes before it expires. Other JSON credentials (authorized_user,
// external_account) are refused; a Token that is not JSON is sent as an
// OAuth 2.0 access token. Without a Token, workload identity is not
// attempted (Flux would use the controller's Google identity): no
// Authorization header is sent, so a Transport may authenticate the
// requests, or send them to the Pub/Sub emulator. Beyond Flux, Proxy and
// TLSConfig apply.
//
// Azure Event Hubs is served with its REST "Send event" API (POST
// https://<namespace>/<hub>/messages), not the AMQP SDK Flux uses, which
// would link Azure's SDK; no Event Hubs server or emulator could be run in
// this package's tests, which check the wire format and the signature
// against a local server instead. As in Flux, Address is either a
// connection string (Endpoint=sb://<namespace>/;SharedAccessKeyName=…;
// SharedAccessKey=…;EntityPath=<hub>; a SharedAccessSignature=… given in
// its place is sent as is), from which each request gets a SAS token valid
// for an hour, signed with crypto/hmac; or the hub's name, with the
// namespace in Channel (".servicebus.windows.net" is appended to a short
// name) and an Azure AD access token in Token. The body is the event's JSON
// payload, as in Flux. Managed identity and workload identity are not
// supported: without a connection string, Token is required. Headers are
// sent as HTTP headers, which Event Hubs keeps as the event's custom
// properties; Proxy and TLSConfig apply.
//
// The github, githubdispatch and githubpullrequestcomment types
// authenticate with Token (or Password) or, when both are empty, as a
// GitHub App whose keys are in SecretData under Flux's names
// (SecretKeyGitHubAppID and the other SecretKeyGitHubApp constants): an
// RS256 app JWT signed with crypto/rsa is exchanged for an installation
// token (the installation found by ID, or by owner as an organization and
// then as a user), which is cached until five minutes before it expires.
// Comments made as an App are recognised by the App's "<slug>[bot]" login.
// Unlike Flux, which then goes to api.github.com, an App without
// githubAppBaseURL authenticates against the API of the repository's own
// host, so GitHub Enterprise Server needs no extra key. Minted tokens are
// kept in Config.TokenCache, which a program that builds a Sender per
// event should share among them.
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
