package receiver

import (
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Verified is what verifying a request established.
type Verified struct {
	// Event is the event type the request announced (X-GitHub-Event,
	// X-Gitlab-Event, X-Event-Key or Ce-Type), or "".
	Event string
	// Payload is the request's JSON document that resource filters see as
	// req: the body, the "payload" field of a form-encoded GitHub or
	// Bitbucket delivery, or the message unwrapped from a GCR Pub/Sub push.
	// Nil when the request carries no JSON (its Content-Type is not
	// application/json); filters then see an empty req.
	Payload []byte
	// Claims are the verified token claims of a generic-oidc request.
	Claims map[string]any
}

// Verify authenticates a request for a receiver and parses what its type
// expects, as Flux's notification-controller does. body is the whole
// request body. Errors wrap ErrUnauthenticated, ErrEventNotAccepted or
// ErrInvalidPayload, and never contain the token or a signature.
func (h *Handler) Verify(ctx context.Context, rcv *Receiver, header http.Header, body []byte) (*Verified, error) {
	if rcv.Type != GenericOIDC && rcv.Token == "" {
		return nil, ErrNoToken
	}
	token := []byte(rcv.Token)
	v := &Verified{}
	if isJSONContent(header) {
		v.Payload = body
	}
	switch rcv.Type {
	case Generic:
		return v, nil

	case GenericHMAC:
		if err := checkSignature(header.Get("X-Signature"), token, body, "sha1", "sha256", "sha512"); err != nil {
			return nil, fmt.Errorf("X-Signature: %w", err)
		}
		return v, nil

	case GenericOIDC:
		claims, err := h.verifyGenericOIDC(ctx, rcv, header.Get("Authorization"))
		if err != nil {
			return nil, err
		}
		v.Claims = claims
		return v, nil

	case GitHub, Bitbucket:
		payload, err := verifyHubSignature(header, token, body)
		if err != nil {
			return nil, err
		}
		v.Payload = payload
		if rcv.Type == GitHub {
			v.Event = header.Get("X-GitHub-Event")
		} else {
			v.Event = header.Get("X-Event-Key")
		}
		if err := acceptEvent(rcv.Events, v.Event); err != nil {
			return nil, err
		}
		return v, nil

	case GitLab:
		if !equalToken(header.Get("X-Gitlab-Token"), rcv.Token) {
			return nil, fmt.Errorf("%w: the X-Gitlab-Token header does not match the receiver token", ErrUnauthenticated)
		}
		v.Event = header.Get("X-Gitlab-Event")
		if err := acceptEvent(rcv.Events, v.Event); err != nil {
			return nil, err
		}
		return v, nil

	case Harbor:
		if !equalToken(header.Get("Authorization"), rcv.Token) {
			return nil, fmt.Errorf("%w: the Authorization header does not match the receiver token", ErrUnauthenticated)
		}
		return v, nil

	case CDEvents:
		if err := validateCDEvent(body); err != nil {
			return nil, err
		}
		v.Event = header.Get("Ce-Type")
		if err := acceptEvent(rcv.Events, v.Event); err != nil {
			return nil, err
		}
		return v, nil

	case DockerHub:
		var p struct {
			PushData struct {
				Tag string `json:"tag"`
			} `json:"push_data"`
			Repository struct {
				URL string `json:"repo_url"`
			} `json:"repository"`
		}
		if err := decodeJSON(body, &p); err != nil {
			return nil, fmt.Errorf("DockerHub payload: %w", err)
		}
		return v, nil

	case Quay:
		var p struct {
			DockerURL   string   `json:"docker_url"`
			UpdatedTags []string `json:"updated_tags"`
		}
		if err := decodeJSON(body, &p); err != nil {
			return nil, fmt.Errorf("quay payload: %w", err)
		}
		return v, nil

	case ACR:
		var p struct {
			Action string `json:"action"`
			Target struct {
				Repository string `json:"repository"`
				Tag        string `json:"tag"`
			} `json:"target"`
		}
		if err := decodeJSON(body, &p); err != nil {
			return nil, fmt.Errorf("ACR payload: %w", err)
		}
		return v, nil

	case Nexus:
		if err := checkHexHMAC(sha1.New, header.Get("X-Nexus-Webhook-Signature"), token, body); err != nil {
			return nil, fmt.Errorf("X-Nexus-Webhook-Signature: %w", err)
		}
		var p struct {
			Action         string `json:"action"`
			RepositoryName string `json:"repositoryName"`
		}
		if err := decodeJSON(body, &p); err != nil {
			return nil, fmt.Errorf("nexus payload: %w", err)
		}
		return v, nil

	case GCR:
		if err := h.verifyGCR(ctx, rcv, header.Get("Authorization")); err != nil {
			return nil, err
		}
		data, err := unwrapPubSub(body)
		if err != nil {
			return nil, err
		}
		v.Payload = data
		return v, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedType, rcv.Type)
}

// equalToken compares a presented token with the expected one in constant
// time (the length of the expected token may leak, its content does not).
func equalToken(presented, expected string) bool {
	return expected != "" && subtle.ConstantTimeCompare([]byte(presented), []byte(expected)) == 1
}

// acceptEvent checks an event type against a receiver's Events,
// case-insensitively; an empty list accepts every event.
func acceptEvent(events []string, event string) error {
	if len(events) == 0 {
		return nil
	}
	for _, e := range events {
		if strings.EqualFold(e, event) {
			return nil
		}
	}
	return fmt.Errorf("%w: %q", ErrEventNotAccepted, event)
}

// verifyHubSignature checks the X-Hub-Signature-256 or X-Hub-Signature
// header of a GitHub, Gitea or Bitbucket delivery and returns its JSON
// payload. As in Flux, the body may be JSON or a form whose "payload"
// field holds the JSON; the signature covers the raw body. The SHA-256
// header wins when present and must then carry a sha256 signature.
func verifyHubSignature(header http.Header, token, body []byte) ([]byte, error) {
	var payload []byte
	ct, _, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("%w: unsupported Content-Type", ErrInvalidPayload)
	}
	switch ct {
	case "application/json":
		payload = body
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("%w: form body: %v", ErrInvalidPayload, err)
		}
		payload = []byte(form.Get("payload"))
	default:
		return nil, fmt.Errorf("%w: unsupported Content-Type %q", ErrInvalidPayload, ct)
	}
	if sig := header.Get("X-Hub-Signature-256"); sig != "" {
		if err := checkSignature(sig, token, body, "sha256"); err != nil {
			return nil, fmt.Errorf("X-Hub-Signature-256: %w", err)
		}
		return payload, nil
	}
	if err := checkSignature(header.Get("X-Hub-Signature"), token, body, "sha1", "sha256", "sha512"); err != nil {
		return nil, fmt.Errorf("X-Hub-Signature: %w", err)
	}
	return payload, nil
}

// isJSONContent reports whether a Content-Type header names JSON, as Flux
// decides whether resource filters see the body.
func isJSONContent(header http.Header) bool {
	for _, v := range strings.Split(header.Get("Content-Type"), ",") {
		t, _, err := mime.ParseMediaType(v)
		if err != nil {
			return false
		}
		if t == "application/json" {
			return true
		}
	}
	return false
}

// decodeJSON decodes one JSON document into v; errors wrap
// ErrInvalidPayload and quote no content.
func decodeJSON(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("%w: malformed JSON at offset %d", ErrInvalidPayload, se.Offset)
		}
		return fmt.Errorf("%w: %v", ErrInvalidPayload, err)
	}
	return nil
}

// unwrapPubSub returns the GCR/GAR event a Pub/Sub push message carries
// (base64 JSON in message.data), re-encoded with the fields Flux keeps.
func unwrapPubSub(body []byte) ([]byte, error) {
	var p struct {
		Message struct {
			Data         string    `json:"data"`
			MessageID    string    `json:"messageId"`
			PublishTime  time.Time `json:"publishTime"`
			Subscription string    `json:"subscription"`
		} `json:"message"`
	}
	if err := decodeJSON(body, &p); err != nil {
		return nil, fmt.Errorf("GCR Pub/Sub payload: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(p.Message.Data)
	if err != nil {
		return nil, fmt.Errorf("GCR Pub/Sub payload: %w: message data is not base64", ErrInvalidPayload)
	}
	var d struct {
		Action string `json:"action"`
		Digest string `json:"digest"`
		Tag    string `json:"tag"`
	}
	if err := decodeJSON(raw, &d); err != nil {
		return nil, fmt.Errorf("GCR event: %w", err)
	}
	return json.Marshal(d)
}

// cdeventTypePattern is the form of a CDEvent type:
// dev.cdevents.<subject>.<predicate>.<semver>.
const cdeventTypePattern = `^dev\.cdevents\.[a-zA-Z]+\.[a-zA-Z]+\.[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`

// validateCDEvent checks the structure every CDEvent has: a context with
// id, source, type (dev.cdevents.<subject>.<predicate>.<version>) and
// timestamp (RFC 3339), and a subject with an id.
func validateCDEvent(body []byte) error {
	var e struct {
		Context *struct {
			ID        string `json:"id"`
			Source    string `json:"source"`
			Type      string `json:"type"`
			Timestamp string `json:"timestamp"`
		} `json:"context"`
		Subject *struct {
			ID string `json:"id"`
		} `json:"subject"`
	}
	if err := decodeJSON(body, &e); err != nil {
		return fmt.Errorf("CDEvent: %w", err)
	}
	switch {
	case e.Context == nil:
		return fmt.Errorf("CDEvent: %w: missing context", ErrInvalidPayload)
	case e.Subject == nil || e.Subject.ID == "":
		return fmt.Errorf("CDEvent: %w: missing subject id", ErrInvalidPayload)
	case e.Context.ID == "" || e.Context.Source == "":
		return fmt.Errorf("CDEvent: %w: missing context id or source", ErrInvalidPayload)
	}
	if ok, _ := regexp.MatchString(cdeventTypePattern, e.Context.Type); !ok {
		return fmt.Errorf("CDEvent: %w: context type is not dev.cdevents.<subject>.<predicate>.<version>", ErrInvalidPayload)
	}
	if _, err := time.Parse(time.RFC3339Nano, e.Context.Timestamp); err != nil {
		return fmt.Errorf("CDEvent: %w: context timestamp is not RFC 3339", ErrInvalidPayload)
	}
	return nil
}
