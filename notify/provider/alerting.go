package provider

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gitopskit/gitopskit/notify"
)

// datadog creates an event through the v1 events API.
type datadog struct {
	c   *client
	url string
	key string
}

func newDataDog(c *client, cfg *Config) (Sender, error) {
	u, err := requireURL("Address", cfg.Address)
	if err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, configError("Token", "is required (the Datadog API key)")
	}
	return &datadog{c: c, url: u.Scheme + "://" + u.Host + "/api/v1/events", key: cfg.Token}, nil
}

func (d *datadog) Post(ctx context.Context, e notify.Event) error {
	o := e.InvolvedObject
	tags := []string{
		"flux_reporting_controller:" + e.ReportingController,
		"flux_reason:" + e.Reason,
		"kube_kind:" + o.Kind,
		"kube_name:" + o.Name,
		"kube_namespace:" + o.Namespace,
	}
	for _, k := range sortedKeys(e.Metadata) {
		tags = append(tags, k+":"+e.Metadata[k])
	}
	for i := range tags {
		tags[i] = strings.ToLower(tags[i])
	}
	alert := "info"
	if e.Severity == notify.SeverityError {
		alert = "error"
	}
	p := map[string]any{
		"title":            fmt.Sprintf("Events from the %s %s/%s", o.Kind, o.Name, o.Namespace),
		"text":             e.Message,
		"tags":             tags,
		"source_type_name": "fluxcd",
		"date_happened":    e.Timestamp.Unix(),
		"alert_type":       alert,
	}
	return d.c.postJSON(ctx, d.url, p, map[string]string{"DD-API-KEY": d.key, "Accept": contentTypeJSON})
}

// opsgenie creates an alert with a stable alias.
type opsgenie struct {
	c   *client
	url string
	key string
	uid string
}

func newOpsgenie(c *client, cfg *Config) (Sender, error) {
	if _, err := requireURL("Address", cfg.Address); err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, configError("Token", "is required (the Opsgenie API key)")
	}
	return &opsgenie{c: c, url: cfg.Address, key: cfg.Token, uid: cfg.ProviderUID}, nil
}

// OpsgenieAlias is the alias Flux gives an Opsgenie alert, so that repeated
// alerts for one object and reason are deduplicated: the hex SHA-256 of
// "<providerUID>/<kind>/<namespace>/<name>/<reason>".
func OpsgenieAlias(providerUID string, e notify.Event) string {
	o := e.InvolvedObject
	sum := sha256.Sum256([]byte(strings.Join([]string{providerUID, o.Kind, o.Namespace, o.Name, e.Reason}, "/")))
	return hex.EncodeToString(sum[:])
}

func (s *opsgenie) Post(ctx context.Context, e notify.Event) error {
	details := make(map[string]string, len(e.Metadata)+1)
	for k, v := range e.Metadata {
		details[k] = v
	}
	details["severity"] = e.Severity
	p := map[string]any{
		"message":     e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name,
		"alias":       OpsgenieAlias(s.uid, e),
		"description": e.Message,
		"details":     details,
	}
	return s.c.postJSON(ctx, s.url, p, map[string]string{"Authorization": "GenieKey " + s.key})
}

// pagerduty sends Events API v2 events: trigger on errors, resolve
// otherwise, plus a change event for info events.
type pagerduty struct {
	c   *client
	url string
	key string
}

func newPagerDuty(c *client, cfg *Config) (Sender, error) {
	addr := cfg.Address
	if addr == "" {
		addr = "https://events.pagerduty.com"
	}
	u, err := requireURL("Address", addr)
	if err != nil {
		return nil, err
	}
	if cfg.Channel == "" {
		return nil, configError("Channel", "is required (the PagerDuty integration/routing key)")
	}
	return &pagerduty{c: c, url: u.Scheme + "://" + u.Host, key: cfg.Channel}, nil
}

// nameAndDescription is Flux's "<kind>/<name>" and the reason split into
// lowercase words.
func nameAndDescription(e *notify.Event) (string, string) {
	name := strings.ToLower(e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name)
	return name, strings.ToLower(strings.Join(splitCamelCase(e.Reason), " "))
}

// splitCamelCase splits "ReconciliationSucceeded" into its words, keeping
// acronyms together ("PDFLoader" is "PDF Loader").
func splitCamelCase(s string) []string {
	if !utf8.ValidString(s) {
		return []string{s}
	}
	class := func(r rune) int {
		switch {
		case unicode.IsLower(r):
			return 1
		case unicode.IsUpper(r):
			return 2
		case unicode.IsDigit(r):
			return 3
		}
		return 4
	}
	var runs [][]rune
	last := 0
	for _, r := range s {
		c := class(r)
		if c == last {
			runs[len(runs)-1] = append(runs[len(runs)-1], r)
		} else {
			runs = append(runs, []rune{r})
		}
		last = c
	}
	for i := 0; i < len(runs)-1; i++ {
		if unicode.IsUpper(runs[i][0]) && unicode.IsLower(runs[i+1][0]) {
			runs[i+1] = append([]rune{runs[i][len(runs[i])-1]}, runs[i+1]...)
			runs[i] = runs[i][:len(runs[i])-1]
		}
	}
	out := []string{}
	for _, r := range runs {
		if len(r) > 0 {
			out = append(out, string(r))
		}
	}
	return out
}

func (p *pagerduty) Post(ctx context.Context, e notify.Event) error {
	if e.Reason == reasonProgressing {
		return nil
	}
	name, desc := nameAndDescription(&e)
	details := map[string]any{"message": e.Message, "metadata": e.Metadata}
	ev := map[string]any{"routing_key": p.key, "event_action": "resolve", "dedup_key": e.InvolvedObject.UID}
	if e.Severity == notify.SeverityError {
		ev["event_action"] = "trigger"
		ev["payload"] = map[string]any{
			"summary":        desc + ": " + name,
			"source":         "Flux " + e.ReportingController,
			"severity":       "error",
			"timestamp":      e.Timestamp.Format(time.RFC3339),
			"component":      e.InvolvedObject.Name,
			"group":          e.InvolvedObject.Kind,
			"custom_details": details,
		}
	}
	if err := p.c.postJSON(ctx, p.url+"/v2/enqueue", ev, nil); err != nil {
		return err
	}
	if e.Severity != notify.SeverityInfo {
		return nil
	}
	change := map[string]any{"routing_key": p.key, "payload": map[string]any{
		"summary":        desc + ": " + name,
		"source":         "Flux " + e.ReportingController,
		"timestamp":      e.Timestamp.Format(time.RFC3339),
		"custom_details": details,
	}}
	return p.c.postJSON(ctx, p.url+"/v2/change/enqueue", change, nil)
}

// alertmanager posts one firing alert to the v2 alerts API.
type alertmanager struct {
	c              *client
	url            string
	token          string
	user, password string
}

func newAlertmanager(c *client, cfg *Config) (Sender, error) {
	if _, err := requireURL("Address", cfg.Address); err != nil {
		return nil, err
	}
	return &alertmanager{c: c, url: cfg.Address, token: cfg.Token, user: cfg.Username, password: cfg.Password}, nil
}

// titleWords upper-cases the first letter of each word and lower-cases the
// rest, as golang.org/x/text/cases.Title does for Flux's alert names.
func titleWords(s string) string {
	var b strings.Builder
	start := true
	for _, r := range s {
		switch {
		case unicode.IsSpace(r) || r == '-' || r == '_' || r == '.':
			start = true
			b.WriteRune(r)
			continue
		case start:
			b.WriteRune(unicode.ToTitle(r))
		default:
			b.WriteRune(unicode.ToLower(r))
		}
		start = false
	}
	return b.String()
}

func (a *alertmanager) Post(ctx context.Context, e notify.Event) error {
	annotations := map[string]string{"message": e.Message}
	labels := make(map[string]string, len(e.Metadata)+8)
	for k, v := range e.Metadata {
		if k == MetaSummaryKey {
			annotations[MetaSummaryKey] = v
			continue
		}
		labels[k] = v
	}
	o := e.InvolvedObject
	labels["alertname"] = "Flux" + o.Kind + titleWords(e.Reason)
	labels["severity"] = e.Severity
	labels["reason"] = e.Reason
	labels["kind"] = o.Kind
	labels["name"] = o.Name
	labels["namespace"] = o.Namespace
	labels["reportingcontroller"] = e.ReportingController
	payload := []map[string]any{{
		"status":      "firing",
		"labels":      labels,
		"annotations": annotations,
		"startsAt":    e.Timestamp.Format(time.RFC3339),
	}}
	r := request{method: http.MethodPost, url: a.url, ctype: contentTypeJSON}
	if a.token != "" {
		r.headers = map[string]string{"Authorization": "Bearer " + a.token}
	}
	if a.user != "" && a.password != "" {
		r.basic = &[2]string{a.user, a.password}
		r.headers = nil
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("%s: encoding payload: %w", a.c.typ, err)
	}
	r.body = b
	_, err = a.c.do(ctx, r)
	return err
}

// incidentio posts to an incident.io HTTP alert source.
type incidentio struct {
	c     *client
	url   string
	token string
}

func newIncidentio(c *client, cfg *Config) (Sender, error) {
	if _, err := requireURL("Address", cfg.Address); err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, configError("Token", "is required (the incident.io API token)")
	}
	return &incidentio{c: c, url: cfg.Address, token: cfg.Token}, nil
}

func (i *incidentio) Post(ctx context.Context, e notify.Event) error {
	if e.Reason == reasonProgressing {
		return nil
	}
	status := "resolved"
	if e.Severity == notify.SeverityError {
		status = "firing"
	}
	meta := make(map[string]string, len(e.Metadata)+3)
	for k, v := range e.Metadata {
		meta[k] = v
	}
	meta["severity"] = e.Severity
	meta["reason"] = e.Reason
	if e.ReportingController != "" {
		meta["reportingController"] = e.ReportingController
	}
	p := map[string]any{
		"title":             objectName(&e) + ": " + e.Reason,
		"status":            status,
		"deduplication_key": e.InvolvedObject.UID,
		"metadata":          meta,
	}
	if e.Message != "" {
		p["description"] = e.Message
	}
	return i.c.postJSON(ctx, i.url, p, map[string]string{"Authorization": "Bearer " + i.token})
}

// grafana posts an annotation.
type grafana struct {
	c              *client
	url            string
	token          string
	user, password string
}

func newGrafana(c *client, cfg *Config) (Sender, error) {
	if _, err := requireURL("Address", cfg.Address); err != nil {
		return nil, err
	}
	return &grafana{c: c, url: cfg.Address, token: cfg.Token, user: cfg.Username, password: cfg.Password}, nil
}

func (g *grafana) Post(ctx context.Context, e notify.Event) error {
	tags := []string{"flux", e.ReportingController}
	for _, k := range sortedKeys(e.Metadata) {
		tags = append(tags, strings.ReplaceAll(k, ":", "|")+": "+strings.ReplaceAll(e.Metadata[k], ":", "|"))
	}
	o := e.InvolvedObject
	tags = append(tags, "kind: "+o.Kind, "name: "+o.Name, "namespace: "+o.Namespace)
	p := map[string]any{"when": e.Timestamp.Unix(), "text": objectName(&e), "tags": tags}
	var h map[string]string
	switch {
	case g.token != "":
		h = map[string]string{"Authorization": "Bearer " + g.token}
	case g.user != "" && g.password != "":
		h = map[string]string{"Authorization": "Basic " + basicAuth(g.user, g.password)}
	}
	return g.c.postJSON(ctx, g.url, p, h)
}

// sentry sends an event (errors) or a transaction (info) in an envelope
// to the project of the DSN.
type sentry struct {
	c           *client
	url         string
	key         string
	environment string
}

func newSentry(c *client, cfg *Config) (Sender, error) {
	u, err := requireURL("Address", cfg.Address)
	if err != nil {
		return nil, err
	}
	if u.User == nil || u.User.Username() == "" {
		return nil, configError("Address", "must be a Sentry DSN (https://<key>@<host>/<project>)")
	}
	p := strings.Trim(u.Path, "/")
	i := strings.LastIndexByte(p, '/')
	prefix, project := "", p
	if i >= 0 {
		prefix, project = "/"+p[:i], p[i+1:]
	}
	if project == "" {
		return nil, configError("Address", "has no Sentry project ID")
	}
	return &sentry{c: c, url: u.Scheme + "://" + u.Host + prefix + "/api/" + project + "/envelope/", key: u.User.Username(), environment: cfg.Channel}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *sentry) Post(ctx context.Context, e notify.Event) error {
	o := e.InvolvedObject
	summary := fmt.Sprintf("%s: %s/%s", o.Kind, o.Namespace, o.Name)
	id := randomHex(16)
	ts := float64(e.Timestamp.UnixNano()) / 1e9
	item := map[string]any{
		"event_id":    id,
		"timestamp":   ts,
		"platform":    "go",
		"transaction": summary,
		"message":     e.Message,
	}
	if s.environment != "" {
		item["environment"] = s.environment
	}
	typ := "event"
	switch e.Severity {
	case notify.SeverityError:
		extra := make(map[string]any, len(e.Metadata))
		for k, v := range e.Metadata {
			extra[k] = v
		}
		item["level"] = "error"
		item["server_name"] = e.ReportingController
		item["contexts"] = map[string]any{"metadata": extra}
	case notify.SeverityInfo:
		typ = "transaction"
		tags := map[string]string{
			"flux_involved_object_kind":      o.Kind,
			"flux_involved_object_namespace": o.Namespace,
			"flux_involved_object_name":      o.Name,
			"flux_reporting_controller":      e.ReportingController,
			"flux_reporting_instance":        e.ReportingInstance,
			"flux_reason":                    e.Reason,
		}
		for k, v := range e.Metadata {
			tags[k] = v
		}
		traceID, spanID := randomHex(16), randomHex(8)
		item["type"] = "transaction"
		item["start_timestamp"] = ts
		item["tags"] = tags
		item["contexts"] = map[string]any{"trace": map[string]any{"trace_id": traceID, "span_id": spanID, "op": "event"}}
		item["spans"] = []any{map[string]any{"trace_id": traceID, "span_id": randomHex(8), "parent_span_id": spanID, "op": "event", "start_timestamp": ts, "timestamp": ts, "tags": tags}}
	default:
		return nil
	}
	payload, err := json.Marshal(item)
	if err != nil {
		return fmt.Errorf("%s: encoding event: %w", s.c.typ, err)
	}
	head, _ := json.Marshal(map[string]any{"event_id": id, "sent_at": time.Now().UTC().Format(time.RFC3339)})
	itemHead, _ := json.Marshal(map[string]any{"type": typ, "length": len(payload)})
	body := append(append(append(append(head, '\n'), itemHead...), '\n'), payload...)
	auth := "Sentry sentry_version=7, sentry_client=" + userAgent + "/1, sentry_key=" + s.key
	_, err = s.c.do(ctx, request{method: http.MethodPost, url: s.url, body: body, ctype: "application/x-sentry-envelope",
		headers: map[string]string{"X-Sentry-Auth": auth}})
	return err
}
