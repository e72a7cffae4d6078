package provider

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Google OAuth 2.0 values used to exchange a service-account key for an
// access token.
const (
	// GoogleTokenURI is the token endpoint used when a service-account key
	// names none.
	GoogleTokenURI = "https://oauth2.googleapis.com/token"
	// PubSubScope is the OAuth 2.0 scope googlepubsub providers request.
	PubSubScope = "https://www.googleapis.com/auth/pubsub"
	// googleJWTBearerGrant is RFC 7523's grant type.
	googleJWTBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// googleAssertionLifetime is the lifetime of the signed assertion
	// (Google accepts at most an hour).
	googleAssertionLifetime = time.Hour
)

// googleServiceAccount exchanges a service-account key for access tokens
// with the OAuth 2.0 JWT-bearer grant (RFC 7523), as Google's client
// libraries do for a JSON key.
type googleServiceAccount struct {
	c        *client
	email    string
	keyID    string
	key      *rsa.PrivateKey
	tokenURI string
	scope    string
	cache    *TokenCache
	cacheKey string
	now      func() time.Time
}

// newGoogleServiceAccount reads a JSON key of type "service_account". Its
// errors name the fields, never their values.
func newGoogleServiceAccount(c *client, data []byte, cache *TokenCache, scope string) (*googleServiceAccount, error) {
	var k struct {
		Type         string `json:"type"`
		ClientEmail  string `json:"client_email"`
		PrivateKey   string `json:"private_key"`
		PrivateKeyID string `json:"private_key_id"`
		TokenURI     string `json:"token_uri"`
	}
	if err := json.Unmarshal(data, &k); err != nil {
		return nil, configError("Token", "is not a JSON Google credentials file")
	}
	if k.Type != "service_account" {
		return nil, configError("Token", "holds Google credentials of type %q: only service_account keys are exchanged for access tokens here "+
			"(give a service-account key, an OAuth 2.0 access token, or a Transport that authenticates its requests)", k.Type)
	}
	if k.ClientEmail == "" {
		return nil, configError("Token", "service-account key has no client_email")
	}
	key, err := parseRSAKey([]byte(k.PrivateKey))
	if err != nil {
		return nil, configError("Token", "service-account key's private_key %s", err)
	}
	if k.TokenURI == "" {
		k.TokenURI = GoogleTokenURI
	}
	u, err := url.Parse(k.TokenURI)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, configError("Token", "service-account key's token_uri must be an https URL")
	}
	// The key is a credential: mask it and its parts wherever they appear.
	c.addSecret(string(data), k.PrivateKey)
	if cache == nil {
		cache = &TokenCache{}
	}
	sum := sha256.Sum256([]byte(k.PrivateKey))
	return &googleServiceAccount{
		c: c, email: k.ClientEmail, keyID: k.PrivateKeyID, key: key, tokenURI: k.TokenURI, scope: scope,
		cache: cache, cacheKey: cacheKey("google-service-account", k.TokenURI, k.ClientEmail, k.PrivateKeyID, string(sum[:]), scope),
		now: time.Now,
	}, nil
}

func (g *googleServiceAccount) bearer(ctx context.Context) (string, error) {
	t, err := g.cache.get(ctx, g.cacheKey, g.now, g.mint)
	return t.value, err
}

// mint signs an assertion and exchanges it at the key's token endpoint.
func (g *googleServiceAccount) mint(ctx context.Context) (mintedToken, error) {
	now := g.now().Truncate(time.Second)
	assertion, err := signJWT(g.key, g.keyID, map[string]any{
		"iss":   g.email,
		"scope": g.scope,
		"aud":   g.tokenURI,
		"iat":   now.Unix(),
		"exp":   now.Add(googleAssertionLifetime).Unix(),
	})
	if err != nil {
		return mintedToken{}, fmt.Errorf("%s: service-account assertion: %w", g.c.typ, err)
	}
	g.c.addSecret(assertion)
	form := url.Values{"grant_type": {googleJWTBearerGrant}, "assertion": {assertion}}
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	r := request{method: http.MethodPost, url: g.tokenURI, body: []byte(form.Encode()), ctype: contentTypeForm,
		headers: map[string]string{"Accept": contentTypeJSON}, out: &out}
	if _, err := g.c.do(ctx, r); err != nil {
		return mintedToken{}, fmt.Errorf("exchanging the service-account key for an access token: %w", err)
	}
	if out.AccessToken == "" {
		return mintedToken{}, fmt.Errorf("%s: the token endpoint answered without an access token", g.c.typ)
	}
	if out.TokenType != "" && !strings.EqualFold(out.TokenType, "Bearer") {
		return mintedToken{}, fmt.Errorf("%s: the token endpoint issued a %q token, not a bearer token", g.c.typ, out.TokenType)
	}
	g.c.addSecret(out.AccessToken)
	issued := g.now()
	expiry := issued
	if out.ExpiresIn > 0 {
		expiry = issued.Add(time.Duration(out.ExpiresIn) * time.Second)
	}
	return newMintedToken(out.AccessToken, "", issued, expiry), nil
}
