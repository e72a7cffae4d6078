package provider

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gitopskit/gitopskit/notify"
)

// Azure Event Hubs' REST "Send event" API.
const (
	// EventHubsDomain completes an Event Hubs namespace given by its
	// short name in Channel (Azure's public cloud); give the fully
	// qualified namespace for another cloud.
	EventHubsDomain = ".servicebus.windows.net"
	// eventHubAPIVersion is the API version of the Send event operation.
	eventHubAPIVersion = "2014-01"
	// eventHubContentType is the content type the Send event API documents.
	eventHubContentType = "application/atom+xml;type=entry;charset=utf-8"
	// eventHubSASLifetime is the lifetime of the SAS tokens signed here.
	eventHubSASLifetime = time.Hour
)

// eventHub sends each event to an Event Hub with the REST API, authorised
// by a SAS token it signs (or one given) or a bearer token.
type eventHub struct {
	c        *client
	url      string // https://<namespace>/<hub>/messages?…
	resource string // https://<namespace>/<hub>, the SAS resource URI
	// One of: a shared access key and its name, a ready SAS, a bearer
	// token.
	keyName, key string
	sas          string
	token        string
	now          func() time.Time
}

// newAzureEventHub reads Flux's two forms: a connection string in Address
// (Endpoint=sb://<namespace>/;SharedAccessKeyName=…;SharedAccessKey=…;
// EntityPath=<hub>), or the hub's name in Address, its namespace in
// Channel and an Azure AD token in Token.
func newAzureEventHub(c *client, cfg *Config) (Sender, error) {
	h := &eventHub{c: c, now: time.Now}
	var namespace, hub string
	if strings.Contains(cfg.Address, "SharedAccessKey") || strings.Contains(cfg.Address, "SharedAccessSignature") {
		if cfg.Token != "" {
			return nil, configError("Token", "must be empty when Address is a connection string (a SAS and a token cannot both authorise)")
		}
		cs, err := parseConnectionString(cfg.Address)
		if err != nil {
			return nil, err
		}
		namespace, hub = cs.namespace, cs.hub
		h.keyName, h.key, h.sas = cs.keyName, cs.key, cs.sas
		c.addSecret(cs.key, cs.sas)
	} else {
		hub = strings.TrimSpace(cfg.Address)
		if hub == "" {
			return nil, configError("Address", "is required (an Event Hubs connection string, or the event hub's name)")
		}
		if err := eventHubName(hub); err != nil {
			return nil, configError("Address", "is not an event hub name or a connection string with SharedAccessKey (%s)", err)
		}
		namespace = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(cfg.Channel), "sb://"), "https://"), "/")
		if namespace == "" {
			return nil, configError("Channel", "is required (the Event Hubs namespace) when Address is the event hub's name")
		}
		if !strings.Contains(namespace, ".servicebus.") {
			namespace += EventHubsDomain
		}
		if u, err := url.Parse("https://" + namespace); err != nil || u.Host != namespace || u.Port() != "" {
			return nil, configError("Channel", "is not an Event Hubs namespace")
		}
		h.token = strings.TrimSpace(cfg.Token)
		if h.token == "" {
			return nil, configError("Token", "is required (an Azure AD access token for Event Hubs) when Address is not a connection string: "+
				"workload identity and managed identity are not supported here")
		}
	}
	h.resource = "https://" + namespace + "/" + url.PathEscape(hub)
	h.url = h.resource + "/messages?timeout=60&api-version=" + eventHubAPIVersion
	return h, nil
}

// eventHubName rejects what cannot be one path segment.
func eventHubName(s string) error {
	if strings.ContainsAny(s, "/?#%;= \t\r\n") {
		return fmt.Errorf("contains '/', '?', '#', '%%', ';', '=' or white space")
	}
	return nil
}

// connectionString is an Event Hubs connection string, parsed.
type connectionString struct {
	namespace, hub string
	keyName, key   string
	sas            string
}

// parseConnectionString reads the keys of a connection string
// case-insensitively, as Azure's SDKs do. Errors name keys, never values.
func parseConnectionString(s string) (connectionString, error) {
	var cs connectionString
	var endpoint string
	for part := range strings.SplitSeq(strings.TrimSpace(s), ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return cs, configError("Address", "is not an Event Hubs connection string (a part has no '=')")
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "endpoint":
			endpoint = strings.TrimSpace(v)
		case "sharedaccesskeyname":
			cs.keyName = v
		case "sharedaccesskey":
			cs.key = v
		case "sharedaccesssignature":
			cs.sas = v
		case "entitypath":
			cs.hub = strings.TrimSpace(v)
		}
	}
	u, err := url.Parse(endpoint)
	if endpoint == "" || err != nil || u.Host == "" || (u.Scheme != "sb" && u.Scheme != "https") {
		return cs, configError("Address", "connection string has no Endpoint=sb://<namespace>/")
	}
	cs.namespace = u.Host
	if cs.hub == "" {
		return cs, configError("Address", "connection string has no EntityPath (the event hub's name)")
	}
	if err := eventHubName(cs.hub); err != nil {
		return cs, configError("Address", "connection string's EntityPath %s", err)
	}
	switch {
	case cs.sas != "":
		if !strings.HasPrefix(cs.sas, "SharedAccessSignature ") {
			return cs, configError("Address", "connection string's SharedAccessSignature does not start with \"SharedAccessSignature \"")
		}
	case cs.keyName == "" || cs.key == "":
		return cs, configError("Address", "connection string needs SharedAccessKeyName and SharedAccessKey, or SharedAccessSignature")
	}
	return cs, nil
}

// SignEventHubSAS returns an Event Hubs (Service Bus) SAS authorisation
// header value for resourceURI, valid until expiry: the base64 HMAC-SHA256,
// keyed with the shared access key's text, of the URL-encoded resource URI
// and the expiry in Unix seconds, separated by a newline.
func SignEventHubSAS(resourceURI, keyName, key string, expiry time.Time) string {
	sr := url.QueryEscape(resourceURI)
	se := strconv.FormatInt(expiry.Unix(), 10)
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(sr + "\n" + se))
	sig := base64.StdEncoding.EncodeToString(m.Sum(nil))
	return "SharedAccessSignature sr=" + sr + "&sig=" + url.QueryEscape(sig) + "&se=" + se + "&skn=" + url.QueryEscape(keyName)
}

// authorization is the Authorization header of one request.
func (h *eventHub) authorization() string {
	switch {
	case h.token != "":
		return "Bearer " + h.token
	case h.sas != "":
		return h.sas
	}
	return SignEventHubSAS(h.resource, h.keyName, h.key, h.now().Add(eventHubSASLifetime))
}

// Post sends the event's JSON payload as the body of one event, as Flux
// does; Headers become the event's custom properties.
func (h *eventHub) Post(ctx context.Context, e notify.Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("%s: encoding event: %w", h.c.typ, err)
	}
	r := request{method: http.MethodPost, url: h.url, body: body, ctype: eventHubContentType,
		headers: map[string]string{"Authorization": h.authorization()}}
	_, err = h.c.do(ctx, r)
	return err
}
