package provider

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/gitopskit/gitopskit/notify"
)

// generic POSTs the event itself, signed for generic-hmac.
type generic struct {
	c    *client
	url  string
	hmac []byte
}

func newGeneric(c *client, cfg *Config) (Sender, error) {
	if _, err := requireURL("Address", cfg.Address); err != nil {
		return nil, err
	}
	g := &generic{c: c, url: cfg.Address}
	if cfg.Type == TypeGenericHMAC {
		if cfg.Token == "" {
			return nil, configError("Token", "is required as the HMAC key of generic-hmac")
		}
		g.hmac = []byte(cfg.Token)
	}
	return g, nil
}

// Signature returns the X-Signature header value Flux's generic-hmac
// provider sends for body: "sha256=" and the hex HMAC-SHA256 of body
// under key.
func Signature(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (g *generic) Post(ctx context.Context, e notify.Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("%s: encoding event: %w", g.c.typ, err)
	}
	h := map[string]string{headerNotifyComp: e.ReportingController}
	for k, v := range g.c.headers {
		h[k] = v
	}
	if g.hmac != nil {
		h[headerHMACSigning] = Signature(g.hmac, body)
	}
	_, err = g.c.do(ctx, request{method: http.MethodPost, url: g.url, body: body, ctype: contentTypeJSON, headers: h})
	return err
}

// slackPayload is Slack's message with one attachment, which Discord's
// /slack endpoint and Rocket.Chat also accept.
type slackPayload struct {
	Channel     string            `json:"channel"`
	Username    string            `json:"username"`
	IconURL     string            `json:"icon_url"`
	IconEmoji   string            `json:"icon_emoji"`
	Text        string            `json:"text,omitempty"`
	Attachments []slackAttachment `json:"attachments,omitempty"`
}

type slackAttachment struct {
	Fallback   string       `json:"fallback,omitempty"`
	Color      string       `json:"color"`
	AuthorName string       `json:"author_name"`
	Text       string       `json:"text"`
	MrkdwnIn   []string     `json:"mrkdwn_in"`
	Fields     []slackField `json:"fields"`
}

type slackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// slackLike serves slack, discord and rocket.
type slackLike struct {
	c        *client
	url      string
	token    string
	channel  string
	username string
	botAPI   bool
}

func newSlackLike(c *client, cfg *Config) (Sender, error) {
	u, err := requireURL("Address", cfg.Address)
	if err != nil {
		return nil, err
	}
	s := &slackLike{c: c, url: cfg.Address, channel: cfg.Channel, username: cfg.Username}
	switch cfg.Type {
	case TypeSlack:
		s.token = cfg.Token
		// Flux checks the answer of chat.postMessage (always 200, with
		// "ok"); any host serving that path is treated alike.
		s.botAPI = strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/api/chat.postMessage")
		if s.botAPI && s.token == "" {
			return nil, configError("Token", "is required for the Slack chat.postMessage API")
		}
	case TypeDiscord:
		// Discord's Slack-compatible endpoint, as Flux uses it.
		if !strings.HasSuffix(cfg.Address, "/slack") {
			u.Path = path.Join(u.Path, "slack")
			u.RawPath = ""
			s.url = u.String()
		}
		s.channel = ""
	}
	return s, nil
}

func (s *slackLike) Post(ctx context.Context, e notify.Event) error {
	p := slackPayload{Channel: s.channel, Username: s.username}
	if p.Username == "" && s.c.typ != TypeRocket {
		p.Username = e.ReportingController
	}
	color := "good"
	if e.Severity == notify.SeverityError {
		color = "danger"
	}
	if s.c.typ == TypeRocket {
		color = "#0076D7"
		if e.Severity == notify.SeverityError {
			color = "#FF0000"
		}
	}
	fields := make([]slackField, 0, len(e.Metadata))
	for _, k := range sortedKeys(e.Metadata) {
		fields = append(fields, slackField{Title: k, Value: e.Metadata[k]})
	}
	a := slackAttachment{Color: color, AuthorName: objectName(&e), Text: e.Message, MrkdwnIn: []string{"text"}, Fields: fields}
	if s.c.typ == TypeSlack {
		a.Fallback = objectName(&e) + ": " + strings.Split(e.Message, "\n")[0]
	}
	p.Attachments = []slackAttachment{a}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("%s: encoding payload: %w", s.c.typ, err)
	}
	r := request{method: http.MethodPost, url: s.url, body: body, ctype: contentTypeJSON}
	if s.token != "" {
		r.headers = map[string]string{"Authorization": "Bearer " + s.token}
	}
	if s.botAPI {
		r.check = checkSlackResponse
	}
	_, err = s.c.do(ctx, r)
	return err
}

// checkSlackResponse reads chat.postMessage's {"ok":…, "error":…}.
func checkSlackResponse(body []byte) error {
	var r struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("unreadable chat.postMessage response: %w", err)
	}
	if !r.OK {
		return fmt.Errorf("chat.postMessage answered with error %q", r.Error)
	}
	return nil
}

// msteams posts an adaptive card (Workflows) or, for a legacy connector
// URL (host under webhook.office.com), a MessageCard.
type msteams struct {
	c      *client
	url    string
	legacy bool
}

func newMSTeams(c *client, cfg *Config) (Sender, error) {
	u, err := requireURL("Address", cfg.Address)
	if err != nil {
		return nil, err
	}
	return &msteams{c: c, url: cfg.Address, legacy: strings.HasSuffix(u.Hostname(), ".webhook.office.com")}, nil
}

func (m *msteams) Post(ctx context.Context, e notify.Event) error {
	if m.legacy {
		return m.c.postJSON(ctx, m.url, messageCard(&e), nil)
	}
	return m.c.postJSON(ctx, m.url, adaptiveCard(&e), nil)
}

func messageCard(e *notify.Event) map[string]any {
	facts := make([]map[string]string, 0, len(e.Metadata))
	for _, k := range sortedKeys(e.Metadata) {
		facts = append(facts, map[string]string{"name": k, "value": e.Metadata[k]})
	}
	color := "0076D7"
	if e.Severity == notify.SeverityError {
		color = "FF0000"
	}
	name := objectName(e)
	return map[string]any{
		"@type":      "MessageCard",
		"@context":   "http://schema.org/extensions",
		"themeColor": color,
		"summary":    name,
		"sections": []any{map[string]any{
			"activityTitle":    e.Message,
			"activitySubtitle": name,
			"facts":            facts,
		}},
	}
}

func adaptiveCard(e *notify.Event) map[string]any {
	msg := map[string]any{"type": "TextBlock", "text": e.Message, "wrap": true}
	if e.Severity == notify.SeverityError {
		msg["color"] = "attention"
	}
	facts := make([]map[string]string, 0, len(e.Metadata))
	if s, ok := e.Metadata[MetaSummaryKey]; ok {
		facts = append(facts, map[string]string{"title": MetaSummaryKey, "value": s})
	}
	for _, k := range sortedKeys(e.Metadata) {
		if k != MetaSummaryKey {
			facts = append(facts, map[string]string{"title": k, "value": e.Metadata[k]})
		}
	}
	return map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"content": map[string]any{
				"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
				"type":    "AdaptiveCard",
				"version": "1.4",
				"msteams": map[string]string{"width": "Full"},
				"body": []any{map[string]any{
					"type": "Container",
					"items": []any{
						map[string]any{"type": "TextBlock", "text": objectName(e), "size": "large", "weight": "bolder", "wrap": true},
						msg,
						map[string]any{"type": "FactSet", "facts": facts},
					},
				}},
			},
		}},
	}
}

// webhook POSTs a payload built from the event to the address.
type webhook struct {
	c     *client
	url   string
	build func(e *notify.Event) any
}

func newWebhook(c *client, cfg *Config, build func(e *notify.Event) any) (Sender, error) {
	if _, err := requireURL("Address", cfg.Address); err != nil {
		return nil, err
	}
	return &webhook{c: c, url: cfg.Address, build: build}, nil
}

func (w *webhook) Post(ctx context.Context, e notify.Event) error {
	return w.c.postJSON(ctx, w.url, w.build(&e), nil)
}

// googleChatPayload is Flux's Google Chat card.
func googleChatPayload(e *notify.Event) any {
	type textParagraph struct {
		Text string `json:"text"`
	}
	type keyValue struct {
		TopLabel         string  `json:"topLabel"`
		Content          string  `json:"content"`
		ContentMultiline bool    `json:"contentMultiline"`
		BottomLabel      *string `json:"bottomLabel"`
		Icon             *string `json:"icon"`
	}
	type widget struct {
		TextParagraph *textParagraph `json:"textParagraph"`
		KeyValue      *keyValue      `json:"keyValue"`
	}
	type section struct {
		Header  string   `json:"header"`
		Widgets []widget `json:"widgets"`
	}
	text := e.Message
	if e.Severity == notify.SeverityError {
		text = fmt.Sprintf("<font color=\"#ff0000\">%s</font>", e.Message)
	}
	sections := []section{{Widgets: []widget{{TextParagraph: &textParagraph{Text: text}}}}}
	if len(e.Metadata) > 0 {
		kv := make([]widget, 0, len(e.Metadata))
		for _, k := range sortedKeys(e.Metadata) {
			kv = append(kv, widget{KeyValue: &keyValue{TopLabel: k, Content: e.Metadata[k]}})
		}
		sections = append(sections, section{Widgets: kv})
	}
	return map[string]any{"cards": []any{map[string]any{
		"header": map[string]any{
			"title": objectName(e), "subtitle": e.ReportingController, "imageUrl": nil, "imageStyle": nil,
		},
		"sections": sections,
	}}}
}

// larkPayload is Flux's Lark interactive card.
func larkPayload(e *notify.Event) any {
	emoji, color := "💫", "turquoise"
	if e.Severity == notify.SeverityError {
		emoji, color = "🚨", "red"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**\n\n", e.Message)
	for _, k := range sortedKeys(e.Metadata) {
		fmt.Fprintf(&b, "%s: %s\n", k, e.Metadata[k])
	}
	return map[string]any{
		"msg_type": "interactive",
		"card": map[string]any{
			"config": map[string]bool{"wide_screen_mode": true},
			"header": map[string]any{
				"title":    map[string]string{"tag": "plain_text", "content": emoji + " " + objectName(e)},
				"template": color,
			},
			"elements": []any{map[string]any{
				"tag":  "div",
				"text": map[string]string{"tag": "lark_md", "content": b.String()},
			}},
		},
	}
}

// webex posts markdown to a room with a bot token.
type webex struct {
	c     *client
	url   string
	room  string
	token string
}

func newWebex(c *client, cfg *Config) (Sender, error) {
	if _, err := requireURL("Address", cfg.Address); err != nil {
		return nil, err
	}
	if cfg.Channel == "" {
		return nil, configError("Channel", "is required (the Webex room ID)")
	}
	if cfg.Token == "" {
		return nil, configError("Token", "is required (the Webex bot token)")
	}
	return &webex{c: c, url: cfg.Address, room: cfg.Channel, token: cfg.Token}, nil
}

func (w *webex) Post(ctx context.Context, e notify.Event) error {
	var b strings.Builder
	emoji := "✅"
	if e.Severity == notify.SeverityError {
		emoji = "💣"
	}
	fmt.Fprintf(&b, "%s **%s**\n%s\n", emoji, objectName(&e), e.Message)
	for _, k := range sortedKeys(e.Metadata) {
		fmt.Fprintf(&b, ">**%s**: %s\n", k, e.Metadata[k])
	}
	p := map[string]string{"roomId": w.room, "markdown": b.String()}
	return w.c.postJSON(ctx, w.url, p, map[string]string{"Authorization": "Bearer " + w.token})
}

// matrix PUTs an m.room.message event, with the event's SHA-1 as
// transaction ID so that a retry is not posted twice.
type matrix struct {
	c     *client
	base  string
	room  string
	token string
}

func newMatrix(c *client, cfg *Config) (Sender, error) {
	if _, err := requireURL("Address", cfg.Address); err != nil {
		return nil, err
	}
	if cfg.Channel == "" {
		return nil, configError("Channel", "is required (the Matrix room ID)")
	}
	if cfg.Token == "" {
		return nil, configError("Token", "is required (the Matrix access token)")
	}
	return &matrix{c: c, base: strings.TrimSuffix(cfg.Address, "/"), room: cfg.Channel, token: cfg.Token}, nil
}

func (m *matrix) Post(ctx context.Context, e notify.Event) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("%s: encoding event: %w", m.c.typ, err)
	}
	tx := fmt.Sprintf("%x", sha1.Sum(raw))
	emoji := "💫"
	if e.Severity == notify.SeverityError {
		emoji = "🚨"
	}
	var meta strings.Builder
	for _, k := range sortedKeys(e.Metadata) {
		fmt.Fprintf(&meta, "- %s: %s\n", k, e.Metadata[k])
	}
	p := map[string]string{
		"body":    fmt.Sprintf("%s %s\n%s\n%s", emoji, objectName(&e), e.Message, meta.String()),
		"msgtype": "m.text",
	}
	u := fmt.Sprintf("%s/_matrix/client/r0/rooms/%s/send/m.room.message/%s", m.base, url.PathEscape(m.room), tx)
	_, err = m.c.jsonRequest(ctx, http.MethodPut, u, p, map[string]string{"Authorization": "Bearer " + m.token}, nil)
	return err
}

// telegram calls the Bot API's sendMessage with MarkdownV2.
type telegram struct {
	c      *client
	url    string
	chat   string
	thread string
}

func newTelegram(c *client, cfg *Config) (Sender, error) {
	if cfg.Channel == "" {
		return nil, configError("Channel", "is required (the Telegram chat ID, optionally :<thread ID>)")
	}
	if cfg.Token == "" {
		return nil, configError("Token", "is required (the Telegram bot token)")
	}
	base := "https://api.telegram.org"
	if cfg.Address != "" {
		// Beyond Flux, which always uses api.telegram.org: a Bot API
		// server of one's own.
		if _, err := requireURL("Address", cfg.Address); err != nil {
			return nil, err
		}
		base = strings.TrimSuffix(cfg.Address, "/")
	}
	chat, thread, _ := strings.Cut(cfg.Channel, ":")
	return &telegram{c: c, url: base + "/bot" + cfg.Token + "/sendMessage", chat: chat, thread: thread}, nil
}

// telegramEscape escapes MarkdownV2's special characters.
func telegramEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\.-_[]()~>`#+=|{}!*", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (t *telegram) Post(ctx context.Context, e notify.Event) error {
	emoji := "💫"
	if e.Severity == notify.SeverityError {
		emoji = "🚨"
	}
	o := e.InvolvedObject
	heading := fmt.Sprintf("%s %s/%s/%s", emoji, strings.ToLower(o.Kind), o.Name, o.Namespace)
	var meta strings.Builder
	for _, k := range sortedKeys(e.Metadata) {
		fmt.Fprintf(&meta, "\\- *%s*: %s\n", telegramEscape(k), telegramEscape(e.Metadata[k]))
	}
	p := map[string]string{
		"chat_id":    t.chat,
		"text":       fmt.Sprintf("*%s*\n%s\n%s", telegramEscape(heading), telegramEscape(e.Message), meta.String()),
		"parse_mode": "MarkdownV2",
	}
	if t.thread != "" {
		p["message_thread_id"] = t.thread
	}
	return t.c.postJSON(ctx, t.url, p, nil)
}

// zulip posts a stream message as a form with basic authentication.
type zulip struct {
	c              *client
	url            string
	stream, topic  string
	user, password string
}

func newZulip(c *client, cfg *Config) (Sender, error) {
	u, err := requireURL("Address", cfg.Address)
	if err != nil {
		return nil, err
	}
	u.Path, u.RawPath, u.RawQuery = "/api/v1/messages", "", ""
	stream, topic, ok := strings.Cut(cfg.Channel, "/")
	if !ok || stream == "" || topic == "" {
		return nil, configError("Channel", "must be <channel>/<topic>")
	}
	return &zulip{c: c, url: u.String(), stream: stream, topic: topic, user: cfg.Username, password: cfg.Password}, nil
}

func (z *zulip) Post(ctx context.Context, e notify.Event) error {
	form := url.Values{"type": {"stream"}, "to": {z.stream}, "topic": {z.topic}, "content": {markdownPost(&e)}}
	_, err := z.c.do(ctx, request{method: http.MethodPost, url: z.url, body: []byte(form.Encode()), ctype: contentTypeForm, basic: &[2]string{z.user, z.password}})
	return err
}

// markdownPost is Flux's Markdown rendering of an event (Zulip and
// change-request comments).
func markdownPost(e *notify.Event) string {
	emoji := "ℹ️"
	if e.Severity == notify.SeverityError {
		emoji = "⚠️"
	}
	o := e.InvolvedObject
	var meta strings.Builder
	for _, k := range sortedKeys(e.Metadata) {
		if k != MetaChangeRequestKey {
			fmt.Fprintf(&meta, "* `%s`: %s\n", k, e.Metadata[k])
		}
	}
	return fmt.Sprintf("## Flux Status\n\n%s %s/%s/%s\n\n%s\n\nMetadata:\n%s", emoji, o.Kind, o.Namespace, o.Name, e.Message, meta.String())
}

// zoom posts a rich message to a Team Chat incoming webhook.
type zoom struct {
	c     *client
	url   string
	token string
}

func newZoom(c *client, cfg *Config) (Sender, error) {
	u, err := requireURL("Address", cfg.Address)
	if err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, configError("Token", "is required (the Zoom verification token)")
	}
	q := u.Query()
	if q.Get("format") == "" {
		q.Set("format", "full")
		u.RawQuery = q.Encode()
	}
	return &zoom{c: c, url: u.String(), token: cfg.Token}, nil
}

func (z *zoom) Post(ctx context.Context, e notify.Event) error {
	body := []any{map[string]string{"type": "message", "text": e.Message}}
	if len(e.Metadata) > 0 {
		items := make([]map[string]string, 0, len(e.Metadata))
		for _, k := range sortedKeys(e.Metadata) {
			items = append(items, map[string]string{"key": k, "value": e.Metadata[k]})
		}
		body = append(body, map[string]any{"type": "fields", "items": items})
	}
	p := map[string]any{"content": map[string]any{
		"head": map[string]any{"text": objectName(&e), "sub_head": map[string]string{"text": e.Severity}},
		"body": body,
	}}
	// The verification token goes in Authorization without a scheme.
	return z.c.postJSON(ctx, z.url, p, map[string]string{"Authorization": z.token})
}
