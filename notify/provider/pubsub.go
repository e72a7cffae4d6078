package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-logr/logr"

	"github.com/gitopskit/gitopskit/notify"
)

// PubSubEndpoint is the Google Pub/Sub API that googlepubsub providers
// publish to. To publish elsewhere (the Pub/Sub emulator, a private
// endpoint), give Config.Transport a RoundTripper that sends the requests
// there.
const PubSubEndpoint = "https://pubsub.googleapis.com"

// pubsub publishes events with Pub/Sub's REST API: the protocol is HTTPS
// and JSON, so no Google SDK (nor gRPC) is linked.
type pubsub struct {
	c          *client
	url        string
	auth       bearerSource // nil: no Authorization header
	attributes map[string]string
}

// newGooglePubSub reads the project ID from Address and the topic ID from
// Channel, as Flux does; Headers become message attributes.
func newGooglePubSub(c *client, cfg *Config) (Sender, error) {
	if err := pubSubName(cfg.Address); err != nil {
		return nil, configError("Address", "is not a Google Cloud project ID (%s)", err)
	}
	if err := pubSubName(cfg.Channel); err != nil {
		return nil, configError("Channel", "is not a Pub/Sub topic ID (%s)", err)
	}
	p := &pubsub{
		c:   c,
		url: PubSubEndpoint + "/v1/projects/" + url.PathEscape(cfg.Address) + "/topics/" + url.PathEscape(cfg.Channel) + ":publish",
	}
	switch tok := strings.TrimSpace(cfg.Token); {
	case strings.HasPrefix(tok, "{"):
		sa, err := newGoogleServiceAccount(c, []byte(tok), cfg.TokenCache, PubSubScope)
		if err != nil {
			return nil, err
		}
		p.auth = sa
	case tok != "":
		p.auth = staticBearer(tok)
	}
	if len(cfg.Headers) > 0 {
		p.attributes = make(map[string]string, len(cfg.Headers))
		for k, v := range cfg.Headers {
			p.attributes[k] = v
		}
	}
	// Headers are message attributes here, not HTTP headers.
	c.headers = nil
	return p, nil
}

// pubSubName rejects what cannot be one segment of a resource name.
func pubSubName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty")
	case strings.ContainsAny(s, "/?#:% \t\r\n"):
		return fmt.Errorf("contains '/', '?', '#', ':', '%%' or white space")
	}
	return nil
}

// pubSubMessage is Pub/Sub's PubsubMessage; Data is sent as base64.
type pubSubMessage struct {
	Data       []byte            `json:"data"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

func (p *pubsub) Post(ctx context.Context, e notify.Event) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("%s: encoding event: %w", p.c.typ, err)
	}
	body := map[string][]pubSubMessage{"messages": {{Data: data, Attributes: p.attributes}}}
	var headers map[string]string
	if p.auth != nil {
		tok, err := p.auth.bearer(ctx)
		if err != nil {
			return err
		}
		headers = map[string]string{"Authorization": "Bearer " + tok}
	}
	var out struct {
		MessageIDs []string `json:"messageIds"`
	}
	if _, err := p.c.jsonRequest(ctx, "POST", p.url, body, headers, &out); err != nil {
		return err
	}
	if len(out.MessageIDs) != 1 {
		return fmt.Errorf("%s: the server acknowledged %d messages, want 1", p.c.typ, len(out.MessageIDs))
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("event published to Pub/Sub", "messageID", out.MessageIDs[0])
	return nil
}
