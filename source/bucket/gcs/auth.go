package gcs

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"golang.org/x/oauth2/jwt"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/bucket"
)

// defaultTokenURI is where a service-account key without token_uri is
// exchanged for tokens.
const defaultTokenURI = "https://oauth2.googleapis.com/token"

// tokenTimeout bounds one token request: token sources are not given a
// request's context.
const tokenTimeout = 30 * time.Second

// newTransport returns the transport to the endpoint and the token
// endpoint: no proxy from the environment, the extra CA, the proxy.
func newTransport(opts Options, red *redactor) (*http.Transport, error) {
	if p := opts.Proxy; p != nil {
		red.addURL(p.URL)
		red.addBasicAuth(p.Username, p.Password)
	}
	return bucket.Transport(opts.CA, opts.Proxy)
}

// authClient returns the client that sends every request over base with
// the credentials opts name, or anonymously.
func authClient(ctx context.Context, opts Options, base *http.Transport, red *redactor) (*http.Client, error) {
	// Token requests go over the same transport (CA, proxy), bounded in
	// time; the context only carries that client.
	tt := &tokenTransport{base: base}
	tokenCtx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient,
		&http.Client{Transport: tt, Timeout: tokenTimeout})
	var ts oauth2.TokenSource
	switch {
	case len(opts.ServiceAccountKey) > 0:
		cfg, err := serviceAccountConfig(opts.ServiceAccountKey, red)
		if err != nil {
			return nil, err
		}
		ts = cfg.TokenSource(tokenCtx)
	case opts.TokenSource != nil:
		ts = oauth2.ReuseTokenSource(nil, opts.TokenSource)
	case opts.ApplicationDefault:
		creds, err := google.FindDefaultCredentials(tokenCtx, ReadOnlyScope)
		if err != nil {
			return nil, &bucket.Error{Origin: origin, Op: "configure", Subject: opts.Bucket, Kind: source.ErrAuth,
				Detail: red.redact("Application Default Credentials: " + err.Error())}
		}
		ts = creds.TokenSource
	default:
		return &http.Client{Transport: base}, nil
	}
	if opts.TokenSource != nil {
		tt = nil // the caller's source has its own transport
	}
	return &http.Client{Transport: &oauth2.Transport{Base: base, Source: &maskedSource{src: ts, red: red, tt: tt}}}, nil
}

// serviceAccountKey holds the fields of a service account's JSON key that
// the token exchange uses.
type serviceAccountKey struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKey   string `json:"private_key"`
	PrivateKeyID string `json:"private_key_id"`
	TokenURI     string `json:"token_uri"`
}

// serviceAccountConfig checks a service account's JSON key and returns
// the JWT-bearer exchange it describes, for tokens of ReadOnlyScope. Its
// errors name fields, never their values (but for the type and the token
// endpoint, which are not secret).
func serviceAccountConfig(data []byte, red *redactor) (*jwt.Config, error) {
	var key serviceAccountKey
	if err := json.Unmarshal(data, &key); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return nil, fmt.Errorf("the service-account key is not JSON (syntax error at byte %d)", syn.Offset)
		case errors.As(err, &typ) && typ.Field != "":
			return nil, fmt.Errorf("the service-account key's field %q is not a %s", typ.Field, typ.Type)
		}
		return nil, errors.New("the service-account key is not a JSON object")
	}
	red.addPrivateKey(key.PrivateKey, key.PrivateKeyID)
	switch {
	case key.Type != "service_account":
		return nil, fmt.Errorf("the key's type is %.40q: only \"service_account\" keys are accepted", key.Type)
	case key.ClientEmail == "":
		return nil, errors.New("the service-account key has no client_email")
	case key.PrivateKey == "":
		return nil, errors.New("the service-account key has no private_key")
	}
	block, _ := pem.Decode([]byte(key.PrivateKey))
	if block == nil {
		return nil, errors.New("the service-account key's private_key is not PEM-encoded")
	}
	var rsaKey *rsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		rsaKey, _ = k.(*rsa.PrivateKey)
	} else if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		rsaKey = k
	}
	if rsaKey == nil {
		return nil, errors.New("the service-account key's private_key is not an RSA private key")
	}
	tokenURI := key.TokenURI
	if tokenURI == "" {
		tokenURI = defaultTokenURI
	}
	u, err := url.Parse(tokenURI)
	switch {
	case err != nil || u.Host == "" || u.User != nil:
		return nil, fmt.Errorf("the service-account key's token_uri %.200q is not an https URL", source.RedactURL(tokenURI))
	case u.Scheme != "https":
		return nil, fmt.Errorf("the service-account key's token_uri %.200q is not https: the signed token request would travel in clear", source.RedactURL(tokenURI))
	}
	return &jwt.Config{
		Email:        key.ClientEmail,
		PrivateKey:   []byte(key.PrivateKey),
		PrivateKeyID: key.PrivateKeyID,
		Scopes:       []string{ReadOnlyScope},
		TokenURL:     tokenURI,
	}, nil
}

// maskedSource passes tokens through and has the redactor mask them. It
// tells a token endpoint that could not be reached from one that refused.
type maskedSource struct {
	mu  sync.Mutex // one token request at a time, so tt's error is ours
	src oauth2.TokenSource
	red *redactor
	tt  *tokenTransport // nil for a caller's token source
}

func (m *maskedSource) Token() (*oauth2.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tt.take()
	t, err := m.src.Token()
	if err != nil {
		return nil, &tokenError{err: err, unreachable: m.tt.take()}
	}
	m.red.addToken(t.AccessToken)
	return t, nil
}

// tokenTransport carries token requests and remembers the last one that
// failed to get a response: the token libraries flatten such errors into
// text, losing their type.
type tokenTransport struct {
	base   http.RoundTripper
	mu     sync.Mutex
	failed error
}

func (t *tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		t.mu.Lock()
		t.failed = err
		t.mu.Unlock()
	}
	return resp, err
}

// take returns the last failure and forgets it; nil on a nil t.
func (t *tokenTransport) take() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	err := t.failed
	t.failed = nil
	return err
}

// tokenError marks a failure to obtain a token, so that it is not taken
// for a failure of the storage request itself. unreachable is set when
// the token endpoint gave no response (network, TLS, proxy).
type tokenError struct {
	err         error
	unreachable error
}

func (e *tokenError) Error() string { return "obtaining an access token: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// maxTokens is how many recent access tokens a redactor masks by value
// (besides every token-shaped string).
const maxTokens = 4

// redactor masks the provider's secrets in error texts: the private key
// and its id, proxy credentials, recent access tokens by value, and JWTs,
// Google access tokens, PEM private keys and JSON token fields by shape.
// It is safe for concurrent use.
type redactor struct {
	mu     sync.Mutex
	r      *source.Redactor
	tokens []string
}

func newRedactor() *redactor { return &redactor{r: source.NewRedactor()} }

var (
	jwtShape    = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
	googleToken = regexp.MustCompile(`\bya29\.[A-Za-z0-9_.-]+`)
	pemKey      = regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z ]*PRIVATE KEY-----|$)`)
	tokenField  = regexp.MustCompile(`("(?:access_token|id_token|refresh_token|assertion|private_key|private_key_id)"\s*:\s*")(?:[^"\\]|\\.)*"`)
)

func (r *redactor) addURL(raw string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.r.AddURL(raw)
}

func (r *redactor) addBasicAuth(user, password string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.r.AddBasicAuth(user, password)
}

// addPrivateKey masks a PEM private key whole, each line of its body, its
// body in one piece, and its id.
func (r *redactor) addPrivateKey(pemText, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.r.AddSecret(pemText, strings.ReplaceAll(pemText, "\n", `\n`), id)
	var body strings.Builder
	for _, line := range strings.Split(pemText, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "-----") || len(line) < 16 {
			continue
		}
		r.r.AddSecret(line)
		body.WriteString(line)
	}
	r.r.AddSecret(body.String())
}

func (r *redactor) addToken(tok string) {
	if len(tok) < 8 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.tokens {
		if t == tok {
			return
		}
	}
	r.tokens = append(r.tokens, tok)
	if len(r.tokens) > maxTokens {
		r.tokens = r.tokens[len(r.tokens)-maxTokens:]
	}
}

// redact masks msg and caps its length (see source.RedactDetail).
func (r *redactor) redact(msg string) string {
	r.mu.Lock()
	for _, t := range r.tokens {
		msg = strings.ReplaceAll(msg, t, "***")
	}
	msg = r.r.Redact(msg)
	r.mu.Unlock()
	msg = pemKey.ReplaceAllString(msg, "***")
	msg = tokenField.ReplaceAllString(msg, `${1}***"`)
	msg = jwtShape.ReplaceAllString(msg, "***")
	msg = googleToken.ReplaceAllString(msg, "***")
	return source.RedactDetail(nil, msg)
}
