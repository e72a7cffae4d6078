package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/notify"
)

const testSHA = "0123456789abcdef0123456789abcdef01234567"

// recorded is one request the sink received.
type recorded struct {
	Method, Host, Path, Query string
	Header                    http.Header
	Body                      []byte
}

// sink records requests and answers them through respond.
type sink struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []recorded
	respond func(r recorded) (int, string)
}

func newSink(t *testing.T, respond func(r recorded) (int, string)) *sink {
	s := &sink{respond: respond}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		host := r.Header.Get("X-Original-Host")
		if host == "" {
			host = r.Host
		}
		rec := recorded{Method: r.Method, Host: host, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: b}
		s.mu.Lock()
		s.reqs = append(s.reqs, rec)
		s.mu.Unlock()
		code, body := http.StatusOK, ""
		if s.respond != nil {
			code, body = s.respond(rec)
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) requests() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.reqs...)
}

// redirect sends every request to the sink whatever its host, keeping the
// original host in a header, so fixed API hosts can be tested.
type redirect struct{ sink *url.URL }

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("X-Original-Host", req.URL.Host)
	req.URL.Scheme, req.URL.Host = r.sink.Scheme, r.sink.Host
	return http.DefaultTransport.RoundTrip(req)
}

func testEvent() notify.Event {
	return notify.Event{
		InvolvedObject:      notify.ObjectReference{Kind: "Kustomization", Namespace: "flux-system", Name: "apps", UID: "7d0cdc51-ddcf-4743"},
		Severity:            notify.SeverityInfo,
		Timestamp:           time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Message:             "Reconciliation finished",
		Reason:              "ReconciliationSucceeded",
		Metadata:            map[string]string{notify.MetaRevisionKey: "main@sha1:" + testSHA, MetaSummaryKey: "prod"},
		ReportingController: "kustomize-controller",
	}
}

// get walks a decoded JSON value along a dotted path ("a.0.b").
func get(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// want is one expected request.
type want struct {
	method, host, path, query string
	header                    map[string]string
	// json maps dotted paths of the JSON body to their expected values
	// (compared as fmt "%v").
	json map[string]string
	// check inspects the raw body.
	check func(t *testing.T, body []byte)
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// TestWireFormat posts one event through each provider to a sink and
// checks every request: method, host, path, headers, body shape and auth.
func TestWireFormat(t *testing.T) {
	errEvent := testEvent()
	errEvent.Severity = notify.SeverityError
	errEvent.Reason = "ReconciliationFailed"
	errEvent.Message = "apply failed"
	prEvent := testEvent()
	prEvent.Metadata[MetaChangeRequestKey] = "7"

	tests := []struct {
		name    string
		cfg     Config
		event   notify.Event
		respond func(r recorded) (int, string)
		want    []want
	}{{
		name: "generic",
		cfg:  Config{Type: TypeGeneric, Address: "http://hooks.example/flux", Headers: map[string]string{"X-Team": "ops"}},
		want: []want{{method: "POST", host: "hooks.example", path: "/flux",
			header: map[string]string{"Content-Type": "application/json", "Gotk-Component": "kustomize-controller", "X-Team": "ops", "X-Signature": ""},
			json:   map[string]string{"involvedObject.kind": "Kustomization", "severity": "info", "reason": "ReconciliationSucceeded", "metadata.revision": "main@sha1:" + testSHA, "timestamp": "2026-01-02T03:04:05Z", "reportingController": "kustomize-controller"}}},
	}, {
		name: "generic-hmac",
		cfg:  Config{Type: TypeGenericHMAC, Address: "http://hooks.example/flux", Token: "hmac-key"},
		want: []want{{method: "POST", path: "/flux", header: map[string]string{"Gotk-Component": "kustomize-controller"},
			check: func(t *testing.T, body []byte) {}}},
	}, {
		name: "slack webhook",
		cfg:  Config{Type: TypeSlack, Address: "https://hooks.slack.com/services/T0/B0/XYZ", Channel: "general"},
		want: []want{{method: "POST", host: "hooks.slack.com", path: "/services/T0/B0/XYZ", header: map[string]string{"Authorization": ""},
			json: map[string]string{"channel": "general", "username": "kustomize-controller", "attachments.0.color": "good",
				"attachments.0.author_name": "kustomization/apps.flux-system", "attachments.0.text": "Reconciliation finished",
				"attachments.0.fallback": "kustomization/apps.flux-system: Reconciliation finished", "attachments.0.mrkdwn_in.0": "text",
				"attachments.0.fields.0.title": "revision", "attachments.0.fields.1.title": "summary", "attachments.0.fields.1.value": "prod"}}},
	}, {
		name:    "slack bot",
		cfg:     Config{Type: TypeSlack, Address: "https://slack.com/api/chat.postMessage", Token: "xoxb-secret", Channel: "C123", Username: "flux"},
		event:   errEvent,
		respond: func(recorded) (int, string) { return 200, `{"ok":true}` },
		want: []want{{method: "POST", host: "slack.com", path: "/api/chat.postMessage", header: map[string]string{"Authorization": "Bearer xoxb-secret"},
			json: map[string]string{"channel": "C123", "username": "flux", "attachments.0.color": "danger"}}},
	}, {
		name:  "msteams workflows",
		cfg:   Config{Type: TypeMSTeams, Address: "https://prod-1.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=s3cr3t"},
		event: errEvent,
		want: []want{{method: "POST", host: "prod-1.westus.logic.azure.com:443", path: "/workflows/abc/triggers/manual/paths/invoke", query: "sig=s3cr3t",
			json: map[string]string{"type": "message", "attachments.0.contentType": "application/vnd.microsoft.card.adaptive",
				"attachments.0.content.type": "AdaptiveCard", "attachments.0.content.version": "1.4", "attachments.0.content.msteams.width": "Full",
				"attachments.0.content.body.0.type": "Container", "attachments.0.content.body.0.items.0.text": "kustomization/apps.flux-system",
				"attachments.0.content.body.0.items.1.text": "apply failed", "attachments.0.content.body.0.items.1.color": "attention",
				"attachments.0.content.body.0.items.2.type": "FactSet", "attachments.0.content.body.0.items.2.facts.0.title": "summary",
				"attachments.0.content.body.0.items.2.facts.1.title": "revision"}}},
	}, {
		name: "msteams legacy connector",
		cfg:  Config{Type: TypeMSTeams, Address: "https://contoso.webhook.office.com/webhookb2/abc/IncomingWebhook/def"},
		want: []want{{method: "POST", host: "contoso.webhook.office.com", path: "/webhookb2/abc/IncomingWebhook/def",
			json: map[string]string{"@type": "MessageCard", "@context": "http://schema.org/extensions", "themeColor": "0076D7",
				"summary": "kustomization/apps.flux-system", "sections.0.activityTitle": "Reconciliation finished",
				"sections.0.activitySubtitle": "kustomization/apps.flux-system", "sections.0.facts.0.name": "revision"}}},
	}, {
		name: "discord",
		cfg:  Config{Type: TypeDiscord, Address: "https://discord.com/api/webhooks/123/tok", Channel: "ignored"},
		want: []want{{method: "POST", host: "discord.com", path: "/api/webhooks/123/tok/slack",
			json: map[string]string{"channel": "", "username": "kustomize-controller", "attachments.0.color": "good", "attachments.0.author_name": "kustomization/apps.flux-system"}}},
	}, {
		name:  "github commit status",
		cfg:   Config{Type: TypeGitHub, Address: "https://github.com/org/repo.git", Token: "ghp_secret", ProviderUID: "0c9c2e41-d2f9-4f9b"},
		event: testEvent(),
		respond: func(r recorded) (int, string) {
			if r.Method == "GET" {
				return 200, `[{"state":"failure","context":"kustomization/apps/0c9c2e41","description":"old"}]`
			}
			return 201, `{}`
		},
		want: []want{
			{method: "GET", host: "api.github.com", path: "/repos/org/repo/commits/" + testSHA + "/statuses", query: "per_page=50",
				header: map[string]string{"Authorization": "Bearer ghp_secret", "Accept": "application/vnd.github+json"}},
			{method: "POST", host: "api.github.com", path: "/repos/org/repo/statuses/" + testSHA, header: map[string]string{"Authorization": "Bearer ghp_secret"},
				json: map[string]string{"state": "success", "context": "kustomization/apps/0c9c2e41", "description": "reconciliation succeeded"}},
		},
	}, {
		name: "github enterprise commit status, duplicate skipped",
		cfg:  Config{Type: TypeGitHub, Address: "git@ghe.example:org/repo.git", Token: "ghp_secret", ProviderUID: "0c9c2e41-d2f9"},
		respond: func(recorded) (int, string) {
			return 200, `[{"state":"success","context":"kustomization/apps/0c9c2e41","description":"reconciliation succeeded"}]`
		},
		want: []want{{method: "GET", host: "ghe.example", path: "/api/v3/repos/org/repo/commits/" + testSHA + "/statuses"}},
	}, {
		name:    "gitlab commit status",
		cfg:     Config{Type: TypeGitLab, Address: "https://gitlab.example/group/sub/project", Password: "glpat-secret", ProviderUID: "abc-def"},
		event:   errEvent,
		respond: func(r recorded) (int, string) { return map[string]int{"GET": 200, "POST": 201}[r.Method], `[]` },
		want: []want{
			{method: "GET", host: "gitlab.example", path: "/api/v4/projects/group%2Fsub%2Fproject/repository/commits/" + testSHA + "/statuses",
				query: "name=kustomization%2Fapps%2Fabc", header: map[string]string{"PRIVATE-TOKEN": "glpat-secret"}},
			{method: "POST", path: "/api/v4/projects/group%2Fsub%2Fproject/statuses/" + testSHA, header: map[string]string{"PRIVATE-TOKEN": "glpat-secret"},
				json: map[string]string{"state": "failed", "name": "kustomization/apps/abc", "description": "reconciliation failed"}},
		},
	}, {
		name:    "gitea commit status",
		cfg:     Config{Type: TypeGitea, Address: "https://gitea.example/org/repo", Token: "gitea-secret", CommitStatusExpr: `event.involvedObject.kind + "/" + event.metadata.summary + "/" + provider.metadata.name`, ProviderObject: map[string]any{"metadata": map[string]any{"name": "gitea-status"}}},
		respond: func(r recorded) (int, string) { return 200, `[]` },
		want: []want{
			{method: "GET", host: "gitea.example", path: "/api/v1/repos/org/repo/statuses/" + testSHA, query: "page=1&limit=50", header: map[string]string{"Authorization": "token gitea-secret"}},
			{method: "POST", path: "/api/v1/repos/org/repo/statuses/" + testSHA,
				json: map[string]string{"state": "success", "context": "Kustomization/prod/gitea-status", "description": "reconciliation succeeded"}},
		},
	}, {
		name: "githubdispatch",
		cfg:  Config{Type: TypeGitHubDispatch, Address: "https://github.com/org/repo", Token: "ghp_secret"},
		want: []want{{method: "POST", host: "api.github.com", path: "/repos/org/repo/dispatches", header: map[string]string{"Authorization": "Bearer ghp_secret"},
			json: map[string]string{"event_type": "Kustomization/apps.flux-system", "client_payload.involvedObject.name": "apps", "client_payload.metadata.summary": "prod"}}},
	}, {
		name:  "alertmanager",
		cfg:   Config{Type: TypeAlertmanager, Address: "https://am.example/api/v2/alerts", Username: "am", Password: "am-secret"},
		event: errEvent,
		want: []want{{method: "POST", host: "am.example", path: "/api/v2/alerts", header: map[string]string{"Authorization": basic("am", "am-secret")},
			json: map[string]string{"0.status": "firing", "0.labels.alertname": "FluxKustomizationReconciliationfailed", "0.labels.severity": "error",
				"0.labels.reason": "ReconciliationFailed", "0.labels.kind": "Kustomization", "0.labels.name": "apps", "0.labels.namespace": "flux-system",
				"0.labels.reportingcontroller": "kustomize-controller", "0.labels.revision": "main@sha1:" + testSHA, "0.labels.summary": "<nil>",
				"0.annotations.summary": "prod", "0.annotations.message": "apply failed", "0.startsAt": "2026-01-02T03:04:05Z"}}},
	}, {
		name:  "pagerduty error",
		cfg:   Config{Type: TypePagerDuty, Channel: "routing-secret"},
		event: errEvent,
		want: []want{{method: "POST", host: "events.pagerduty.com", path: "/v2/enqueue",
			json: map[string]string{"routing_key": "routing-secret", "event_action": "trigger", "dedup_key": "7d0cdc51-ddcf-4743",
				"payload.summary": "reconciliation failed: kustomization/apps", "payload.source": "Flux kustomize-controller",
				"payload.severity": "error", "payload.component": "apps", "payload.group": "Kustomization", "payload.custom_details.message": "apply failed"}}},
	}, {
		name: "pagerduty info",
		cfg:  Config{Type: TypePagerDuty, Address: "https://events.eu.pagerduty.com/x", Channel: "routing-secret"},
		want: []want{
			{method: "POST", host: "events.eu.pagerduty.com", path: "/v2/enqueue", json: map[string]string{"event_action": "resolve", "payload": "<nil>"}},
			{method: "POST", path: "/v2/change/enqueue", json: map[string]string{"routing_key": "routing-secret", "payload.summary": "reconciliation succeeded: kustomization/apps"}},
		},
	}, {
		name: "opsgenie",
		cfg:  Config{Type: TypeOpsgenie, Address: "https://api.opsgenie.com/v2/alerts", Token: "genie-secret", ProviderUID: "uid-1"},
		want: []want{{method: "POST", host: "api.opsgenie.com", path: "/v2/alerts", header: map[string]string{"Authorization": "GenieKey genie-secret"},
			json: map[string]string{"message": "Kustomization/apps", "description": "Reconciliation finished", "details.severity": "info", "details.summary": "prod",
				"alias": OpsgenieAlias("uid-1", testEvent())}}},
	}, {
		name:    "googlepubsub",
		cfg:     Config{Type: TypeGooglePubSub, Address: "my-project", Channel: "flux-events", Token: "ya29.access-token", Headers: map[string]string{"team": "ops"}},
		respond: func(recorded) (int, string) { return 200, `{"messageIds":["1742"]}` },
		want: []want{{method: "POST", host: "pubsub.googleapis.com", path: "/v1/projects/my-project/topics/flux-events:publish",
			header: map[string]string{"Authorization": "Bearer ya29.access-token", "Content-Type": "application/json", "team": ""},
			json:   map[string]string{"messages.0.attributes.team": "ops"},
			check:  checkPubSubData}},
	}, {
		name:    "azureeventhub token",
		cfg:     Config{Type: TypeAzureEventHub, Address: "flux-events", Channel: "contoso", Token: "aad-access-token", Headers: map[string]string{"Team": "ops"}},
		respond: func(recorded) (int, string) { return http.StatusCreated, "" },
		want: []want{{method: "POST", host: "contoso.servicebus.windows.net", path: "/flux-events/messages", query: "timeout=60&api-version=2014-01",
			header: map[string]string{"Authorization": "Bearer aad-access-token", "Content-Type": "application/atom+xml;type=entry;charset=utf-8", "Team": "ops"},
			json:   map[string]string{"involvedObject.kind": "Kustomization", "reason": "ReconciliationSucceeded", "metadata.revision": "main@sha1:" + testSHA}}},
	}, {
		name: "datadog",
		cfg:  Config{Type: TypeDataDog, Address: "https://api.datadoghq.eu", Token: "dd-secret"},
		want: []want{{method: "POST", host: "api.datadoghq.eu", path: "/api/v1/events", header: map[string]string{"DD-API-KEY": "dd-secret"},
			json: map[string]string{"title": "Events from the Kustomization apps/flux-system", "text": "Reconciliation finished", "alert_type": "info",
				"source_type_name": "fluxcd", "date_happened": "1.767323045e+09", "tags.0": "flux_reporting_controller:kustomize-controller",
				"tags.1": "flux_reason:reconciliationsucceeded", "tags.2": "kube_kind:kustomization", "tags.5": "revision:main@sha1:" + testSHA}}},
	}, {
		name: "grafana",
		cfg:  Config{Type: TypeGrafana, Address: "https://grafana.example/api/annotations", Token: "glsa-secret"},
		want: []want{{method: "POST", host: "grafana.example", path: "/api/annotations", header: map[string]string{"Authorization": "Bearer glsa-secret"},
			json: map[string]string{"when": "1.767323045e+09", "text": "kustomization/apps.flux-system", "tags.0": "flux", "tags.1": "kustomize-controller",
				"tags.2": "revision: main@sha1|" + testSHA, "tags.4": "kind: Kustomization"}}},
	}, {
		name: "rocket",
		cfg:  Config{Type: TypeRocket, Address: "https://rocket.example/hooks/abc", Channel: "#flux", Username: "flux"},
		want: []want{{method: "POST", path: "/hooks/abc", json: map[string]string{"channel": "#flux", "username": "flux", "attachments.0.color": "#0076D7"}}},
	}, {
		name: "googlechat",
		cfg:  Config{Type: TypeGoogleChat, Address: "https://chat.googleapis.com/v1/spaces/X/messages?key=k&token=t"},
		want: []want{{method: "POST", host: "chat.googleapis.com", path: "/v1/spaces/X/messages", query: "key=k&token=t",
			json: map[string]string{"cards.0.header.title": "kustomization/apps.flux-system", "cards.0.header.subtitle": "kustomize-controller",
				"cards.0.sections.0.widgets.0.textParagraph.text": "Reconciliation finished", "cards.0.sections.1.widgets.0.keyValue.topLabel": "revision"}}},
	}, {
		name: "lark",
		cfg:  Config{Type: TypeLark, Address: "https://open.larksuite.com/open-apis/bot/v2/hook/xyz"},
		want: []want{{method: "POST", path: "/open-apis/bot/v2/hook/xyz",
			json: map[string]string{"msg_type": "interactive", "card.header.template": "turquoise", "card.header.title.content": "💫 kustomization/apps.flux-system",
				"card.elements.0.text.tag": "lark_md"}}},
	}, {
		name: "webex",
		cfg:  Config{Type: TypeWebex, Address: "https://webexapis.com/v1/messages", Channel: "room-1", Token: "webex-secret"},
		want: []want{{method: "POST", host: "webexapis.com", path: "/v1/messages", header: map[string]string{"Authorization": "Bearer webex-secret"},
			json: map[string]string{"roomId": "room-1"}, check: func(t *testing.T, b []byte) {
				var m map[string]string
				_ = json.Unmarshal(b, &m)
				if !strings.HasPrefix(m["markdown"], "✅ **kustomization/apps.flux-system**\nReconciliation finished\n>**revision**: main@sha1:") {
					t.Errorf("markdown: %s", b)
				}
			}}},
	}, {
		name: "matrix",
		cfg:  Config{Type: TypeMatrix, Address: "https://matrix.example", Channel: "!room:matrix.example", Token: "mx-secret"},
		want: []want{{method: "PUT", host: "matrix.example", header: map[string]string{"Authorization": "Bearer mx-secret"},
			json: map[string]string{"msgtype": "m.text"}}},
	}, {
		name: "telegram",
		cfg:  Config{Type: TypeTelegram, Channel: "-100123:7", Token: "123:tg-secret"},
		want: []want{{method: "POST", host: "api.telegram.org", path: "/bot123:tg-secret/sendMessage",
			json: map[string]string{"chat_id": "-100123", "message_thread_id": "7", "parse_mode": "MarkdownV2"}, check: func(t *testing.T, b []byte) {
				var m map[string]string
				_ = json.Unmarshal(b, &m)
				if !strings.HasPrefix(m["text"], `*💫 kustomization/apps/flux\-system*`+"\nReconciliation finished\n\\- *revision*: ") {
					t.Errorf("text not escaped: %s", b)
				}
			}}},
	}, {
		name: "zulip",
		cfg:  Config{Type: TypeZulip, Address: "https://org.zulipchat.com", Channel: "ops/flux", Username: "bot@org", Password: "zulip-secret"},
		want: []want{{method: "POST", host: "org.zulipchat.com", path: "/api/v1/messages",
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic("bot@org", "zulip-secret")},
			check: func(t *testing.T, b []byte) {
				v, _ := url.ParseQuery(string(b))
				if v.Get("type") != "stream" || v.Get("to") != "ops" || v.Get("topic") != "flux" || !strings.HasPrefix(v.Get("content"), "## Flux Status\n\nℹ️ Kustomization/flux-system/apps") {
					t.Errorf("form: %v", v)
				}
			}}},
	}, {
		name: "zoom",
		cfg:  Config{Type: TypeZoom, Address: "https://integrations.zoom.us/chat/webhooks/incomingwebhook/abc", Token: "zoom-secret"},
		want: []want{{method: "POST", path: "/chat/webhooks/incomingwebhook/abc", query: "format=full", header: map[string]string{"Authorization": "zoom-secret"},
			json: map[string]string{"content.head.text": "kustomization/apps.flux-system", "content.head.sub_head.text": "info", "content.body.0.type": "message", "content.body.1.items.0.key": "revision"}}},
	}, {
		name:  "incident.io",
		cfg:   Config{Type: TypeIncidentio, Address: "https://api.incident.io/v2/alert_events/http/cfg1", Token: "inc-secret"},
		event: errEvent,
		want: []want{{method: "POST", path: "/v2/alert_events/http/cfg1", header: map[string]string{"Authorization": "Bearer inc-secret"},
			json: map[string]string{"title": "kustomization/apps.flux-system: ReconciliationFailed", "status": "firing", "deduplication_key": "7d0cdc51-ddcf-4743",
				"description": "apply failed", "metadata.severity": "error", "metadata.reportingController": "kustomize-controller"}}},
	}, {
		name:  "sentry",
		cfg:   Config{Type: TypeSentry, Address: "https://pubkey@o1.ingest.sentry.io/42", Channel: "staging"},
		event: errEvent,
		want: []want{{method: "POST", host: "o1.ingest.sentry.io", path: "/api/42/envelope/",
			header: map[string]string{"Content-Type": "application/x-sentry-envelope", "X-Sentry-Auth": "Sentry sentry_version=7, sentry_client=gitopskit-notification/1, sentry_key=pubkey"},
			check: func(t *testing.T, b []byte) {
				lines := strings.SplitN(string(b), "\n", 3)
				var item map[string]any
				if len(lines) != 3 || json.Unmarshal([]byte(lines[2]), &item) != nil || item["level"] != "error" || item["environment"] != "staging" || item["transaction"] != "Kustomization: flux-system/apps" {
					t.Errorf("envelope: %s", b)
				}
			}}},
	}, {
		name:    "bitbucket",
		cfg:     Config{Type: TypeBitbucket, Address: "https://bitbucket.org/team/repo.git", Token: "user:app-secret", ProviderUID: "u1-x"},
		respond: func(r recorded) (int, string) { return map[string]int{"GET": 404, "POST": 201}[r.Method], `{}` },
		want: []want{
			{method: "GET", host: "api.bitbucket.org", path: "/2.0/repositories/team/repo/commit/" + testSHA + "/statuses/build/" + sha1Key("kustomization/apps/u1"), header: map[string]string{"Authorization": basic("user", "app-secret")}},
			{method: "POST", path: "/2.0/repositories/team/repo/commit/" + testSHA + "/statuses/build",
				json: map[string]string{"state": "SUCCESSFUL", "key": sha1Key("kustomization/apps/u1"), "name": "kustomization/apps", "description": "reconciliation succeeded", "url": "https://bitbucket.org"}},
		},
	}, {
		name:    "bitbucketserver",
		cfg:     Config{Type: TypeBitbucketServer, Address: "https://bb.example/ctx/scm/PROJ/repo.git", Token: "bbs-secret", ProviderUID: "u1-x"},
		respond: func(r recorded) (int, string) { return map[string]int{"GET": 404, "POST": 204}[r.Method], `` },
		want: []want{
			{method: "GET", host: "bb.example", path: "/ctx/rest/api/latest/projects/PROJ/repos/repo/commits/" + testSHA + "/builds", query: "key=" + sha1Key("kustomization/apps/u1"),
				header: map[string]string{"Authorization": "Bearer bbs-secret", "X-Atlassian-Token": "no-check"}},
			{method: "POST", path: "/ctx/rest/api/latest/projects/PROJ/repos/repo/commits/" + testSHA + "/builds",
				json: map[string]string{"state": "SUCCESSFUL", "name": "kustomization/apps [reconciliation succeeded]", "url": "https://bb.example/ctx/scm/PROJ/repo.git"}},
		},
	}, {
		name:    "azuredevops",
		cfg:     Config{Type: TypeAzureDevOps, Address: "https://dev.azure.com/org/proj/_git/repo", Token: "ado-secret", ProviderUID: "u1-x"},
		respond: func(r recorded) (int, string) { return 200, `{"value":[],"count":0}` },
		want: []want{
			{method: "GET", host: "dev.azure.com", path: "/org/proj/_apis/git/repositories/repo/commits/" + testSHA + "/statuses", query: "api-version=" + azureAPIVersion, header: map[string]string{"Authorization": basic("", "ado-secret")}},
			{method: "POST", path: "/org/proj/_apis/git/repositories/repo/commits/" + testSHA + "/statuses",
				json: map[string]string{"state": "succeeded", "description": "reconciliation succeeded", "context.name": "kustomization/apps/u1", "context.genre": "fluxcd:prod"}},
		},
	}, {
		name:  "github pull request comment, updated in place",
		cfg:   Config{Type: TypeGitHubPullRequestComment, Address: "https://github.com/org/repo", Token: "ghp_secret", ProviderUID: "uid-9"},
		event: prEvent,
		respond: func(r recorded) (int, string) {
			switch {
			case r.Path == "/user":
				return 200, `{"login":"flux-bot"}`
			case r.Method == "GET":
				return 200, `[{"id":1,"body":"<!-- flux-pr-comment-key:uid-9/Kustomization/flux-system/apps -->","user":{"login":"someone"}},{"id":2,"body":"x <!-- flux-pr-comment-key:uid-9/Kustomization/flux-system/apps -->","user":{"login":"flux-bot"}}]`
			}
			return 200, `{}`
		},
		want: []want{
			{method: "GET", host: "api.github.com", path: "/user"},
			{method: "GET", path: "/repos/org/repo/issues/7/comments", query: "sort=created&direction=asc&per_page=100"},
			{method: "PATCH", path: "/repos/org/repo/issues/comments/2", header: map[string]string{"Authorization": "Bearer ghp_secret"}, check: func(t *testing.T, b []byte) {
				var m map[string]string
				_ = json.Unmarshal(b, &m)
				if !strings.HasPrefix(m["body"], "<!-- flux-pr-comment-key:uid-9/Kustomization/flux-system/apps -->\n\n## Flux Status") || strings.Contains(m["body"], "change_request") {
					t.Errorf("body: %q", m["body"])
				}
			}},
		},
	}, {
		name:  "gitlab merge request comment, created",
		cfg:   Config{Type: TypeGitLabMergeRequestComment, Address: "https://gitlab.example/g/p", Token: "glpat-secret", ProviderUID: "uid-9"},
		event: prEvent,
		respond: func(r recorded) (int, string) {
			if r.Path == "/api/v4/user" {
				return 200, `{"username":"flux-bot"}`
			}
			return map[string]int{"GET": 200, "POST": 201}[r.Method], `[]`
		},
		want: []want{
			{method: "GET", path: "/api/v4/user", header: map[string]string{"PRIVATE-TOKEN": "glpat-secret"}},
			{method: "GET", path: "/api/v4/projects/g%2Fp/merge_requests/7/notes", query: "sort=asc&order_by=created_at&per_page=100"},
			{method: "POST", path: "/api/v4/projects/g%2Fp/merge_requests/7/notes"},
		},
	}, {
		name:  "gitea pull request comment, updated in place",
		cfg:   Config{Type: TypeGiteaPullRequestComment, Address: "https://gitea.example/org/repo", Token: "gitea-secret", ProviderUID: "uid-9"},
		event: prEvent,
		respond: func(r recorded) (int, string) {
			if r.Path == "/api/v1/user" {
				return 200, `{"login":"flux-bot"}`
			}
			return 200, `[{"id":5,"body":"<!-- flux-pr-comment-key:uid-9/Kustomization/flux-system/apps -->","user":{"login":"flux-bot"}}]`
		},
		want: []want{
			{method: "GET", path: "/api/v1/user", header: map[string]string{"Authorization": "token gitea-secret"}},
			{method: "GET", path: "/api/v1/repos/org/repo/issues/7/comments", query: "page=1&limit=100"},
			{method: "PATCH", path: "/api/v1/repos/org/repo/issues/comments/5"},
		},
	}}

	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.cfg.Type] = true
		t.Run(tt.name, func(t *testing.T) {
			s := newSink(t, tt.respond)
			u, _ := url.Parse(s.srv.URL)
			tt.cfg.Transport = redirect{sink: u}
			tt.cfg.Retry = Retry{Max: -1}
			snd, err := New(tt.cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			ev := tt.event
			if ev.Reason == "" {
				ev = testEvent()
			}
			if err := snd.Post(context.Background(), ev); err != nil {
				t.Fatalf("Post: %v", err)
			}
			got := s.requests()
			if len(got) != len(tt.want) {
				t.Fatalf("got %d requests, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				r := got[i]
				if r.Method != w.method {
					t.Errorf("request %d: method %s, want %s", i, r.Method, w.method)
				}
				if w.host != "" && r.Host != w.host {
					t.Errorf("request %d: host %s, want %s", i, r.Host, w.host)
				}
				if w.path != "" && r.Path != w.path {
					t.Errorf("request %d: path %s, want %s", i, r.Path, w.path)
				}
				if w.query != "" && r.Query != w.query {
					t.Errorf("request %d: query %s, want %s", i, r.Query, w.query)
				}
				for k, v := range w.header {
					if g := r.Header.Get(k); g != v {
						t.Errorf("request %d: header %s = %q, want %q", i, k, g, v)
					}
				}
				if len(w.json) > 0 {
					var body any
					if err := json.Unmarshal(r.Body, &body); err != nil {
						t.Fatalf("request %d: body is not JSON: %v: %s", i, err, r.Body)
					}
					for p, v := range w.json {
						if g := fmt.Sprintf("%v", get(body, p)); g != v {
							t.Errorf("request %d: %s = %q, want %q\nbody: %s", i, p, g, v, r.Body)
						}
					}
				}
				if w.check != nil {
					w.check(t, r.Body)
				}
			}
		})
	}
	for _, typ := range Types() {
		if !covered[typ] {
			t.Errorf("no wire-format row for provider type %q", typ)
		}
	}
}

// TestGenericHMACSignature checks the X-Signature header against an
// independent verification written from Flux's documentation.
func TestGenericHMACSignature(t *testing.T) {
	s := newSink(t, nil)
	snd, err := New(Config{Type: TypeGenericHMAC, Address: s.srv.URL + "/hook", Token: "s3cret-key"})
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Post(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	r := s.requests()[0]
	sig := r.Header.Get("X-Signature")
	algo, hexsum, ok := strings.Cut(sig, "=")
	if !ok || algo != "sha256" || len(hexsum) != 64 {
		t.Fatalf("X-Signature %q is not sha256=<64 hex>", sig)
	}
	if want := Signature([]byte("s3cret-key"), r.Body); sig != want {
		t.Errorf("X-Signature %q, want %q", sig, want)
	}
	if Signature([]byte("other"), r.Body) == sig {
		t.Error("signature does not depend on the key")
	}
	var e notify.Event
	if err := json.Unmarshal(r.Body, &e); err != nil || e.InvolvedObject.Name != "apps" {
		t.Errorf("body is not the event: %v %s", err, r.Body)
	}
}

// TestSignatureVector checks Signature against RFC 4231 test case 2.
func TestSignatureVector(t *testing.T) {
	got := Signature([]byte("Jefe"), []byte("what do ya want for nothing?"))
	if want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		codes    []int
		wantReqs int
		wantErr  bool
	}{
		{"5xx then success", []int{500, 502, 200}, 3, false},
		{"429 then success", []int{429, 200}, 2, false},
		{"4xx is not retried", []int{400, 200}, 1, true},
		{"404 is not retried", []int{404}, 1, true},
		{"501 is not retried", []int{501, 200}, 1, true},
		{"gives up after Max retries", []int{503, 503, 503, 503}, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			s := newSink(t, func(recorded) (int, string) {
				mu.Lock()
				defer mu.Unlock()
				c := tt.codes[min(n, len(tt.codes)-1)]
				n++
				return c, "nope"
			})
			snd, err := New(Config{Type: TypeGeneric, Address: s.srv.URL, Retry: Retry{Max: 2, MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			err = snd.Post(context.Background(), testEvent())
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got := len(s.requests()); got != tt.wantReqs {
				t.Errorf("%d requests, want %d", got, tt.wantReqs)
			}
			var se *StatusError
			if tt.wantErr && !errors.As(err, &se) {
				t.Errorf("error %v is not a *StatusError", err)
			}
		})
	}
}

func TestRetryHonoursContext(t *testing.T) {
	s := newSink(t, func(recorded) (int, string) { return 503, "" })
	snd, err := New(Config{Type: TypeGeneric, Address: s.srv.URL, Retry: Retry{Max: 100, MinWait: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = snd.Post(ctx, testEvent())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Post took %s after the context ended", d)
	}
	// Timeout bounds a Post too.
	snd, _ = New(Config{Type: TypeGeneric, Address: s.srv.URL, Timeout: 50 * time.Millisecond, Retry: Retry{Max: 100, MinWait: time.Hour}})
	if err := snd.Post(context.Background(), testEvent()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("with Timeout: err = %v, want deadline exceeded", err)
	}
}

func TestSlackBotAPIError(t *testing.T) {
	s := newSink(t, func(recorded) (int, string) { return 200, `{"ok":false,"error":"channel_not_found"}` })
	u, _ := url.Parse(s.srv.URL)
	snd, err := New(Config{Type: TypeSlack, Address: "https://slack.com/api/chat.postMessage", Token: "xoxb-1", Transport: redirect{sink: u}, Retry: Retry{Max: 3, MinWait: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	err = snd.Post(context.Background(), testEvent())
	if err == nil || !strings.Contains(err.Error(), "channel_not_found") {
		t.Errorf("err = %v, want Slack's error", err)
	}
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d requests, want 1 (no retry)", n)
	}
}

// TestRedaction checks that failing requests report neither tokens nor
// webhook URLs, even when the server echoes them.
func TestRedaction(t *testing.T) {
	echo := func(r recorded) (int, string) {
		return 500, "bad request to " + r.Path + "?" + r.Query + " auth=" + r.Header.Get("Authorization") + " body=" + string(r.Body)
	}
	tests := []struct {
		cfg     Config
		secrets []string
	}{
		{Config{Type: TypeSlack, Address: "https://hooks.slack.com/services/T0SECRET/B0SECRET/XyZsecretPath"}, []string{"T0SECRET", "XyZsecretPath", "hooks.slack.com/services"}},
		{Config{Type: TypeSlack, Address: "https://slack.com/api/chat.postMessage", Token: "xoxb-very-secret-token"}, []string{"xoxb-very-secret-token"}},
		{Config{Type: TypeDiscord, Address: "https://discord.com/api/webhooks/123/discordSecretToken"}, []string{"discordSecretToken"}},
		{Config{Type: TypeMSTeams, Address: "https://x.logic.azure.com/workflows/w/invoke?sig=teamsSignatureSecret"}, []string{"teamsSignatureSecret"}},
		{Config{Type: TypeTelegram, Channel: "1", Token: "123456:telegramBotSecret"}, []string{"telegramBotSecret"}},
		{Config{Type: TypeGenericHMAC, Address: "https://user:pa55word@hooks.example/hook", Token: "hmacSecretKey"}, []string{"pa55word", "hmacSecretKey"}},
		{Config{Type: TypeGitHub, Address: "https://github.com/o/r", Token: "ghp_topSecretToken", ProviderUID: "u"}, []string{"ghp_topSecretToken"}},
		{Config{Type: TypeGrafana, Address: "https://g.example/api/annotations", Username: "admin", Password: "grafanaPass"}, []string{"grafanaPass", base64.StdEncoding.EncodeToString([]byte("admin:grafanaPass"))}},
	}
	for _, tt := range tests {
		t.Run(tt.cfg.Type, func(t *testing.T) {
			s := newSink(t, echo)
			u, _ := url.Parse(s.srv.URL)
			tt.cfg.Transport = redirect{sink: u}
			tt.cfg.Retry = Retry{Max: 1, MinWait: time.Millisecond}
			snd, err := New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = snd.Post(context.Background(), testEvent())
			if err == nil {
				t.Fatal("want an error")
			}
			t.Log(err)
			for _, sec := range tt.secrets {
				if strings.Contains(err.Error(), sec) {
					t.Errorf("error leaks %q: %v", sec, err)
				}
			}
		})
	}
	// A transport failure does not print the URL net/http puts in errors.
	snd, err := New(Config{Type: TypeSlack, Address: "http://127.0.0.1:1/services/T0/B0/unreachableSecret", Retry: Retry{Max: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Post(context.Background(), testEvent()); err == nil || strings.Contains(err.Error(), "unreachableSecret") {
		t.Errorf("transport error leaks the webhook URL: %v", err)
	}
}

func TestInvalidConfig(t *testing.T) {
	tests := []struct {
		cfg   Config
		field string
	}{
		{Config{}, "Type"},
		{Config{Type: TypeGeneric}, "Address"},
		{Config{Type: TypeGeneric, Address: "ftp://x/y"}, "Address"},
		{Config{Type: TypeGenericHMAC, Address: "https://x/y"}, "Token"},
		{Config{Type: TypeSlack, Address: "https://slack.com/api/chat.postMessage"}, "Token"},
		{Config{Type: TypeTelegram, Token: "t"}, "Channel"},
		{Config{Type: TypeZulip, Address: "https://z.example", Channel: "nostream"}, "Channel"},
		{Config{Type: TypeGitHub, Address: "https://github.com/o/r", Token: "t"}, "ProviderUID"},
		{Config{Type: TypeGitHub, Address: "https://github.com/o", Token: "t", ProviderUID: "u"}, "Address"},
		{Config{Type: TypeGitHub, Address: "https://github.com/o/r", ProviderUID: "u"}, "Token"},
		{Config{Type: TypeGitHub, Address: "https://github.com/o/r", Token: "t", CommitStatusExpr: "1 +"}, "CommitStatusExpr"},
		{Config{Type: TypeGitHub, Address: "https://github.com/o/r", Token: "t", CommitStatusExpr: "1 == 1"}, "CommitStatusExpr"},
		{Config{Type: TypeBitbucket, Address: "https://bitbucket.org/o/r", Token: "nocolon", ProviderUID: "u"}, "Token"},
		{Config{Type: TypeBitbucketServer, Address: "https://bb.example/o/r", Token: "t", ProviderUID: "u"}, "Address"},
		{Config{Type: TypeAzureDevOps, Address: "https://dev.azure.com/o/p/r", Token: "t", ProviderUID: "u"}, "Address"},
		{Config{Type: TypePagerDuty}, "Channel"},
		{Config{Type: TypeGeneric, Address: "https://x/y", Proxy: "http://p:1", Transport: http.DefaultTransport}, "Transport"},
		{Config{Type: TypeGeneric, Address: "https://x/y", Timeout: -1}, "Timeout"},
		{Config{Type: TypeSentry, Address: "https://sentry.io/1"}, "Address"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("New(%+v) = %v, want an invalid-config error naming %s", tt.cfg, err, tt.field)
		}
	}
	for _, typ := range []string{"nats", "otel", "nope"} {
		if _, err := New(Config{Type: typ, Address: "https://x/y"}); !errors.Is(err, ErrUnsupportedType) {
			t.Errorf("type %s: err = %v, want ErrUnsupportedType", typ, err)
		}
	}
	// Invalid addresses are not echoed.
	_, err := New(Config{Type: TypeSlack, Address: "hooks.slack.com/services/secretPart"})
	if err == nil || strings.Contains(err.Error(), "secretPart") {
		t.Errorf("err = %v", err)
	}
}

func TestCommitStatusEvents(t *testing.T) {
	s := newSink(t, func(r recorded) (int, string) { return 200, `[]` })
	u, _ := url.Parse(s.srv.URL)
	snd, err := New(Config{Type: TypeGitHub, Address: "https://github.com/o/r", Token: "t", ProviderUID: "u", Transport: redirect{sink: u}})
	if err != nil {
		t.Fatal(err)
	}
	e := testEvent()
	delete(e.Metadata, notify.MetaRevisionKey)
	if err := snd.Post(context.Background(), e); !errors.Is(err, ErrNoRevision) {
		t.Errorf("no revision: err = %v, want ErrNoRevision", err)
	}
	e.Metadata[notify.MetaRevisionKey] = "sha256:" + strings.Repeat("ab", 32)
	e.Metadata[MetaCommitKey] = testSHA // preferred, as in Flux
	e.Reason = reasonProgressing
	if err := snd.Post(context.Background(), e); err != nil || len(s.requests()) != 0 {
		t.Errorf("Progressing: err = %v, %d requests; want skipped", err, len(s.requests()))
	}
	e.Reason = "ReconciliationSucceeded"
	if err := snd.Post(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if got := s.requests()[1].Path; got != "/repos/o/r/statuses/"+testSHA {
		t.Errorf("path %s", got)
	}
}

func TestGiteaProgressingIsPending(t *testing.T) {
	s := newSink(t, func(r recorded) (int, string) { return 200, `[]` })
	u, _ := url.Parse(s.srv.URL)
	snd, err := New(Config{Type: TypeGitea, Address: "https://gitea.example/o/r", Token: "t", ProviderUID: "u", Transport: redirect{sink: u}})
	if err != nil {
		t.Fatal(err)
	}
	e := testEvent()
	e.Reason = reasonProgressing
	if err := snd.Post(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	_ = json.Unmarshal(s.requests()[1].Body, &body)
	if body["state"] != "pending" {
		t.Errorf("state %q, want pending", body["state"])
	}
}

func TestDefaultCommitStatus(t *testing.T) {
	if got := DefaultCommitStatus("0c9c2e41-d2f9-4f9b-9c41-1d2f3a4b5c6d", testEvent()); got != "kustomization/apps/0c9c2e41" {
		t.Errorf("got %s", got)
	}
}

func TestChangeRequestWithoutNumber(t *testing.T) {
	snd, err := New(Config{Type: TypeGitHubPullRequestComment, Address: "https://github.com/o/r", Token: "t", ProviderUID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Post(context.Background(), testEvent()); !errors.Is(err, ErrNoChangeRequest) {
		t.Errorf("err = %v, want ErrNoChangeRequest", err)
	}
}

func TestSplitCamelCase(t *testing.T) {
	for in, want := range map[string]string{
		"ReconciliationSucceeded": "Reconciliation Succeeded",
		"PDFLoader":               "PDF Loader",
		"HealthCheckFailed":       "Health Check Failed",
		"":                        "",
	} {
		if got := strings.Join(splitCamelCase(in), " "); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func TestParseGitAddress(t *testing.T) {
	for in, want := range map[string]gitRepo{
		"https://github.com/o/r.git":           {"https://github.com", "o/r"},
		"ssh://git@github.com:22/o/r.git":      {"https://github.com", "o/r"},
		"git@github.com:o/r.git":               {"https://github.com", "o/r"},
		"http://gitlab.local:8080/g/s/p":       {"http://gitlab.local:8080", "g/s/p"},
		"https://dev.azure.com/o/p/_git/r.git": {"https://dev.azure.com", "o/p/_git/r"},
	} {
		got, err := parseGitAddress(in)
		if err != nil || got != want {
			t.Errorf("%s: got %+v, %v; want %+v", in, got, err, want)
		}
	}
}
