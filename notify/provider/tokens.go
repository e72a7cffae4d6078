package provider

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"
)

// TokenCache keeps the short-lived access tokens that providers mint from
// long-lived credentials (GitHub App installation tokens, Google
// service-account access tokens) until shortly before they expire, so that
// the Senders built for successive events share them instead of minting a
// token per event. Entries are keyed by a digest of the credentials and
// endpoint, never by the credentials themselves. The zero value is ready
// to use; it is safe for concurrent use.
type TokenCache struct {
	mu      sync.Mutex
	entries map[string]*tokenEntry
}

// tokenEntry serialises minting for one key, so concurrent posts mint once.
type tokenEntry struct {
	mu  sync.Mutex
	tok mintedToken
}

// mintedToken is an access token and when to stop using it.
type mintedToken struct {
	value string
	// extra is data fetched along with the token (a GitHub App's slug).
	extra string
	// expiry is when the issuer says the token expires.
	expiry time.Time
	// refreshAt is when the cache mints a new one: five minutes before
	// expiry, or halfway through a shorter lifetime.
	refreshAt time.Time
}

// tokenRefreshMargin is how long before its expiry a cached token is
// replaced.
const tokenRefreshMargin = 5 * time.Minute

func newMintedToken(value, extra string, now, expiry time.Time) mintedToken {
	margin := min(tokenRefreshMargin, expiry.Sub(now)/2)
	return mintedToken{value: value, extra: extra, expiry: expiry, refreshAt: expiry.Add(-margin)}
}

// get returns the token cached under key, minting a new one with mint when
// there is none or it is due for refresh. Failures are not cached.
func (c *TokenCache) get(ctx context.Context, key string, now func() time.Time, mint func(context.Context) (mintedToken, error)) (mintedToken, error) {
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]*tokenEntry{}
	}
	// Forget expired tokens so the cache does not grow with rotated
	// credentials.
	t := now()
	for k, e := range c.entries {
		if e.mu.TryLock() {
			if !e.tok.expiry.IsZero() && !t.Before(e.tok.expiry) {
				delete(c.entries, k)
			}
			e.mu.Unlock()
		}
	}
	e, ok := c.entries[key]
	if !ok {
		e = &tokenEntry{}
		c.entries[key] = e
	}
	c.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tok.value != "" && now().Before(e.tok.refreshAt) {
		return e.tok, nil
	}
	tok, err := mint(ctx)
	if err != nil {
		return mintedToken{}, err
	}
	e.tok = tok
	return tok, nil
}

// cacheKey digests the parts that identify a credential and its issuer.
func cacheKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// bearerSource yields the bearer token of a request.
type bearerSource interface {
	bearer(ctx context.Context) (string, error)
}

// staticBearer is a token given in the configuration.
type staticBearer string

func (s staticBearer) bearer(context.Context) (string, error) { return string(s), nil }

// parseRSAKey reads a PEM RSA private key in PKCS #1 or PKCS #8 form. Its
// errors never quote the key.
func parseRSAKey(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("holds no PEM block")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("is not a valid PKCS #1 RSA private key")
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("is not a valid PKCS #8 private key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("holds a %T, not an RSA private key", k)
		}
		return rk, nil
	}
	return nil, fmt.Errorf("holds a PEM block of type %q, not a private key", block.Type)
}

// signJWT returns a compact JWS of claims signed with RS256, with kid in
// the header when not empty.
func signJWT(key *rsa.PrivateKey, kid string, claims any) (string, error) {
	header := map[string]string{"alg": "RS256", "typ": "JWT"}
	if kid != "" {
		header["kid"] = kid
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	return input + "." + enc.EncodeToString(sig), nil
}
