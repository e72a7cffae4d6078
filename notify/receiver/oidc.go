package receiver

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	_ "crypto/sha256" // hashes of RS256, PS256, ES256
	_ "crypto/sha512" // hashes of RS384/512, PS384/512, ES384/512
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

const (
	// GoogleIssuerURL is the issuer of the ID tokens Pub/Sub push
	// subscriptions send, and the base of its discovery document.
	GoogleIssuerURL = "https://accounts.google.com"

	// maxTokenLen bounds the bearer tokens parsed.
	maxTokenLen = 16 << 10
	// maxDocumentLen bounds discovery documents and key sets.
	maxDocumentLen = 1 << 20
	// minRSABits is the smallest RSA key accepted in a key set.
	minRSABits = 2048
	// notBeforeLeeway tolerates clock skew on "nbf", as go-oidc does.
	notBeforeLeeway = time.Minute
)

// jwtHeader is the protected header of a JWS in compact form.
type jwtHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

// jwt is a parsed, not yet verified, JSON Web Token.
type jwt struct {
	header       jwtHeader
	claims       map[string]any
	signingInput []byte
	signature    []byte
}

// parseJWT parses a compact JWS whose payload is a JSON object. It checks
// nothing but the form; errors wrap ErrUnauthenticated and never quote the
// token.
func parseJWT(raw string) (*jwt, error) {
	if len(raw) > maxTokenLen {
		return nil, fmt.Errorf("%w: token too long", ErrUnauthenticated)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: token is not a JWT", ErrUnauthenticated)
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("%w: token header is not base64url", ErrUnauthenticated)
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: token payload is not base64url", ErrUnauthenticated)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("%w: token signature is not base64url", ErrUnauthenticated)
	}
	t := &jwt{signingInput: []byte(parts[0] + "." + parts[1]), signature: sig}
	if err := json.Unmarshal(hb, &t.header); err != nil {
		return nil, fmt.Errorf("%w: token header is not a JSON object", ErrUnauthenticated)
	}
	if len(t.header.Crit) > 0 {
		return nil, fmt.Errorf("%w: token has critical header parameters", ErrUnauthenticated)
	}
	if err := json.Unmarshal(pb, &t.claims); err != nil || t.claims == nil {
		return nil, fmt.Errorf("%w: token payload is not a JSON object", ErrUnauthenticated)
	}
	return t, nil
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header.
func bearerToken(authorization string) (string, error) {
	const prefix = "Bearer "
	if !strings.HasPrefix(authorization, prefix) {
		return "", fmt.Errorf("%w: the Authorization header is missing or malformed", ErrUnauthenticated)
	}
	tok := strings.TrimSpace(authorization[len(prefix):])
	if tok == "" {
		return "", fmt.Errorf("%w: the Authorization header has no bearer token", ErrUnauthenticated)
	}
	return tok, nil
}

// signingHash returns the hash and key family of a JWS algorithm.
func signingHash(alg string) (crypto.Hash, string, bool) {
	switch alg {
	case "RS256":
		return crypto.SHA256, "RSA", true
	case "RS384":
		return crypto.SHA384, "RSA", true
	case "RS512":
		return crypto.SHA512, "RSA", true
	case "PS256":
		return crypto.SHA256, "PSS", true
	case "PS384":
		return crypto.SHA384, "PSS", true
	case "PS512":
		return crypto.SHA512, "PSS", true
	case "ES256":
		return crypto.SHA256, "EC", true
	case "ES384":
		return crypto.SHA384, "EC", true
	case "ES512":
		return crypto.SHA512, "EC", true
	}
	return 0, "", false
}

// curveFor returns the curve an ES algorithm requires.
func curveFor(alg string) elliptic.Curve {
	switch alg {
	case "ES256":
		return elliptic.P256()
	case "ES384":
		return elliptic.P384()
	case "ES512":
		return elliptic.P521()
	}
	return nil
}

// verifySignature checks the token's signature with one public key.
func (t *jwt) verifySignature(key crypto.PublicKey) bool {
	h, family, ok := signingHash(t.header.Alg)
	if !ok {
		return false
	}
	d := h.New()
	d.Write(t.signingInput)
	digest := d.Sum(nil)
	switch k := key.(type) {
	case *rsa.PublicKey:
		switch family {
		case "RSA":
			return rsa.VerifyPKCS1v15(k, h, digest, t.signature) == nil
		case "PSS":
			return rsa.VerifyPSS(k, h, digest, t.signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
	case *ecdsa.PublicKey:
		if family != "EC" || k.Curve != curveFor(t.header.Alg) {
			return false
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(t.signature) != 2*size {
			return false
		}
		r := new(big.Int).SetBytes(t.signature[:size])
		s := new(big.Int).SetBytes(t.signature[size:])
		return ecdsa.Verify(k, digest, r, s)
	}
	return false
}

// registered are the registered claims checked here.
type registered struct {
	iss string
	aud []string
	exp time.Time
	nbf *time.Time
}

// registeredClaims extracts iss, aud, exp and nbf, checking their types.
func registeredClaims(claims map[string]any) (registered, error) {
	var r registered
	iss, ok := claims["iss"].(string)
	if !ok || iss == "" {
		return r, fmt.Errorf("%w: token has no issuer", ErrUnauthenticated)
	}
	r.iss = iss
	switch aud := claims["aud"].(type) {
	case string:
		r.aud = []string{aud}
	case []any:
		for _, a := range aud {
			s, ok := a.(string)
			if !ok {
				return r, fmt.Errorf("%w: token audience is not a string list", ErrUnauthenticated)
			}
			r.aud = append(r.aud, s)
		}
	default:
		return r, fmt.Errorf("%w: token has no audience", ErrUnauthenticated)
	}
	exp, ok := claims["exp"].(float64)
	if !ok {
		return r, fmt.Errorf("%w: token has no expiry", ErrUnauthenticated)
	}
	r.exp = unixTime(exp)
	if v, present := claims["nbf"]; present {
		nbf, ok := v.(float64)
		if !ok {
			return r, fmt.Errorf("%w: token not-before is not a number", ErrUnauthenticated)
		}
		t := unixTime(nbf)
		r.nbf = &t
	}
	return r, nil
}

// unixTime converts a NumericDate, clamping values out of range.
func unixTime(f float64) time.Time {
	const limit = 1 << 40 // far beyond any real date, still exact in float64
	switch {
	case f != f: // NaN
		return time.Unix(0, 0)
	case f > limit:
		f = limit
	case f < -limit:
		f = -limit
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9))
}

// tokenCheck is what a token must satisfy besides its signature.
type tokenCheck struct {
	// discovery is the issuer URL whose discovery document and key set
	// verify the token.
	discovery string
	// issuers are the accepted "iss" values.
	issuers []string
	// audience must be one of the "aud" values.
	audience string
}

// verifyToken verifies a bearer token's signature against the issuer's
// key set, then its issuer, audience, expiry and not-before, and returns
// its claims.
func (h *Handler) verifyToken(ctx context.Context, raw string, c tokenCheck) (map[string]any, error) {
	t, err := parseJWT(raw)
	if err != nil {
		return nil, err
	}
	rc, err := registeredClaims(t.claims)
	if err != nil {
		return nil, err
	}
	issuerOK := false
	for _, iss := range c.issuers {
		if rc.iss == iss {
			issuerOK = true
		}
	}
	if !issuerOK {
		return nil, fmt.Errorf("%w: token issuer is %q, want %s", ErrUnauthenticated, rc.iss, strings.Join(c.issuers, " or "))
	}
	audOK := false
	for _, a := range rc.aud {
		if a == c.audience {
			audOK = true
		}
	}
	if !audOK {
		return nil, fmt.Errorf("%w: token audience %q is not the expected one", ErrUnauthenticated, strings.Join(rc.aud, ","))
	}
	now := h.now()
	if now.After(rc.exp) {
		return nil, fmt.Errorf("%w: token expired at %s", ErrUnauthenticated, rc.exp.UTC().Format(time.RFC3339))
	}
	if rc.nbf != nil && now.Add(notBeforeLeeway).Before(*rc.nbf) {
		return nil, fmt.Errorf("%w: token not valid before %s", ErrUnauthenticated, rc.nbf.UTC().Format(time.RFC3339))
	}
	if _, _, ok := signingHash(t.header.Alg); !ok {
		return nil, fmt.Errorf("%w: unsupported token signing algorithm %q", ErrUnauthenticated, t.header.Alg)
	}
	for attempt := 0; attempt < 2; attempt++ {
		ks, err := h.keys.get(ctx, h, c.discovery, attempt > 0)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
		}
		if !ks.allows(t.header.Alg) {
			return nil, fmt.Errorf("%w: the issuer does not sign with %q", ErrUnauthenticated, t.header.Alg)
		}
		matched := false
		for _, k := range ks.keys {
			if t.header.Kid != "" && k.kid != t.header.Kid {
				continue
			}
			if k.alg != "" && k.alg != t.header.Alg {
				continue
			}
			matched = true
			if t.verifySignature(k.key) {
				return t.claims, nil
			}
		}
		if matched {
			break // a known key refused the signature: no refresh
		}
	}
	return nil, fmt.Errorf("%w: token signature does not verify", ErrUnauthenticated)
}

// verifyGenericOIDC authenticates a generic-oidc request: the provider
// whose IssuerURL is the token's issuer verifies it, then its CEL
// validations run over the claims.
func (h *Handler) verifyGenericOIDC(ctx context.Context, rcv *Receiver, authorization string) (map[string]any, error) {
	if len(rcv.OIDCProviders) == 0 {
		return nil, fmt.Errorf("%w: generic-oidc receiver has no OIDC providers", ErrUnauthenticated)
	}
	raw, err := bearerToken(authorization)
	if err != nil {
		return nil, err
	}
	t, err := parseJWT(raw)
	if err != nil {
		return nil, err
	}
	iss, _ := t.claims["iss"].(string)
	var provider *OIDCProvider
	for i := range rcv.OIDCProviders {
		if rcv.OIDCProviders[i].IssuerURL == iss {
			provider = &rcv.OIDCProviders[i]
			break
		}
	}
	if provider == nil {
		return nil, fmt.Errorf("%w: no OIDC provider configured for issuer %q", ErrUnauthenticated, iss)
	}
	if len(provider.Validations) == 0 {
		return nil, fmt.Errorf("%w: OIDC provider for issuer %q has no validations", ErrUnauthenticated, iss)
	}
	cp, err := h.claimsProcessor(*provider)
	if err != nil {
		return nil, err
	}
	claims, err := h.verifyToken(ctx, raw, tokenCheck{
		discovery: provider.IssuerURL,
		issuers:   []string{provider.IssuerURL},
		audience:  provider.audience(),
	})
	if err != nil {
		return nil, err
	}
	if err := cp.evaluate(ctx, claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// verifyGCR authenticates a Pub/Sub push as Google documents it: a
// Google-signed ID token for the receiver's audience, issued by
// accounts.google.com to the receiver's service account, whose email is
// verified.
func (h *Handler) verifyGCR(ctx context.Context, rcv *Receiver, authorization string) error {
	if rcv.Email == "" || rcv.Audience == "" {
		return fmt.Errorf("%w: gcr receiver needs an email and an audience", ErrUnauthenticated)
	}
	raw, err := bearerToken(authorization)
	if err != nil {
		return err
	}
	issuers := []string{"accounts.google.com", "https://accounts.google.com"}
	if h.googleIssuer != GoogleIssuerURL {
		issuers = append(issuers, h.googleIssuer)
	}
	claims, err := h.verifyToken(ctx, raw, tokenCheck{
		discovery: h.googleIssuer,
		issuers:   issuers,
		audience:  rcv.Audience,
	})
	if err != nil {
		return fmt.Errorf("GCR request: %w", err)
	}
	email, _ := claims["email"].(string)
	if email != rcv.Email {
		return fmt.Errorf("%w: GCR token email is %q, want %q", ErrUnauthenticated, email, rcv.Email)
	}
	if verified, _ := claims["email_verified"].(bool); !verified {
		return fmt.Errorf("%w: GCR token email %q is not verified", ErrUnauthenticated, email)
	}
	return nil
}

// publicKey is one usable key of a key set.
type publicKey struct {
	kid string
	alg string
	key crypto.PublicKey
}

// keySet is an issuer's signing keys and algorithms.
type keySet struct {
	algs []string
	keys []publicKey
}

// allows reports whether the issuer signs ID tokens with alg: one of the
// algorithms its discovery document lists, or RS256 when it lists none
// (OpenID Connect Discovery's default).
func (ks *keySet) allows(alg string) bool {
	if len(ks.algs) == 0 {
		return alg == "RS256"
	}
	for _, a := range ks.algs {
		if a == alg {
			return true
		}
	}
	return false
}

// issuerKeys caches one issuer's key set.
type issuerKeys struct {
	mu      sync.Mutex
	set     *keySet
	fetched time.Time
}

// keyCache caches key sets per issuer URL. Only configured issuers are
// fetched, so it stays as small as the configuration.
type keyCache struct {
	mu      sync.Mutex
	issuers map[string]*issuerKeys
}

// get returns the issuer's key set, fetching discovery document and key
// set when none is cached, when the cached one is older than the handler's
// KeySetTTL, or when refresh is set (a token names an unknown key) and the
// cached one is older than the handler's KeySetMinRefresh.
func (kc *keyCache) get(ctx context.Context, h *Handler, issuer string, refresh bool) (*keySet, error) {
	kc.mu.Lock()
	if kc.issuers == nil {
		kc.issuers = map[string]*issuerKeys{}
	}
	ik := kc.issuers[issuer]
	if ik == nil {
		ik = &issuerKeys{}
		kc.issuers[issuer] = ik
	}
	kc.mu.Unlock()

	ik.mu.Lock()
	defer ik.mu.Unlock()
	now := h.now()
	if ik.set != nil {
		age := now.Sub(ik.fetched)
		if (!refresh && age < h.keySetTTL) || (refresh && age < h.keySetMinRefresh) {
			return ik.set, nil
		}
	}
	ks, err := h.fetchKeySet(ctx, issuer)
	if err != nil {
		return nil, err
	}
	ik.set, ik.fetched = ks, now
	return ks, nil
}

// fetchKeySet reads an issuer's discovery document, which must name the
// issuer itself, and the key set it points to.
func (h *Handler) fetchKeySet(ctx context.Context, issuer string) (*keySet, error) {
	var doc struct {
		Issuer  string   `json:"issuer"`
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	wellKnown := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	if err := h.getJSON(ctx, wellKnown, &doc); err != nil {
		return nil, fmt.Errorf("OIDC discovery for issuer %s: %w", redactURL(issuer), err)
	}
	if doc.Issuer != issuer {
		return nil, fmt.Errorf("OIDC discovery for issuer %s: the document names issuer %s", redactURL(issuer), redactURL(doc.Issuer))
	}
	if u, err := url.Parse(doc.JWKSURI); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("OIDC discovery for issuer %s: invalid jwks_uri", redactURL(issuer))
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := h.getJSON(ctx, doc.JWKSURI, &set); err != nil {
		return nil, fmt.Errorf("key set of issuer %s: %w", redactURL(issuer), err)
	}
	ks := &keySet{}
	for _, a := range doc.Algs {
		if _, _, ok := signingHash(a); ok {
			ks.algs = append(ks.algs, a)
		}
	}
	if len(doc.Algs) > 0 && len(ks.algs) == 0 {
		return nil, fmt.Errorf("OIDC discovery for issuer %s: no supported signing algorithm", redactURL(issuer))
	}
	for _, raw := range set.Keys {
		if k, ok := parseJWK(raw); ok {
			ks.keys = append(ks.keys, k)
		}
	}
	if len(ks.keys) == 0 {
		return nil, fmt.Errorf("key set of issuer %s has no usable signing key", redactURL(issuer))
	}
	return ks, nil
}

// parseJWK parses an RSA or EC signing key; others are skipped.
func parseJWK(raw json.RawMessage) (publicKey, bool) {
	var j struct {
		Kty string `json:"kty"`
		Kid string `json:"kid"`
		Use string `json:"use"`
		Alg string `json:"alg"`
		N   string `json:"n"`
		E   string `json:"e"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Y   string `json:"y"`
	}
	if json.Unmarshal(raw, &j) != nil || (j.Use != "" && j.Use != "sig") {
		return publicKey{}, false
	}
	pk := publicKey{kid: j.Kid, alg: j.Alg}
	switch j.Kty {
	case "RSA":
		n, err1 := base64.RawURLEncoding.DecodeString(j.N)
		e, err2 := base64.RawURLEncoding.DecodeString(j.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return publicKey{}, false
		}
		exp := int(new(big.Int).SetBytes(e).Int64())
		mod := new(big.Int).SetBytes(n)
		if exp < 3 || exp%2 == 0 || mod.BitLen() < minRSABits {
			return publicKey{}, false
		}
		pk.key = &rsa.PublicKey{N: mod, E: exp}
	case "EC":
		var curve elliptic.Curve
		switch j.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return publicKey{}, false
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err1 := base64.RawURLEncoding.DecodeString(j.X)
		y, err2 := base64.RawURLEncoding.DecodeString(j.Y)
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return publicKey{}, false
		}
		point := append(append([]byte{4}, x...), y...)
		k, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return publicKey{}, false
		}
		pk.key = k
	default:
		return publicKey{}, false
	}
	return pk, true
}

// getJSON GETs a JSON document of at most maxDocumentLen bytes.
func (h *Handler) getJSON(ctx context.Context, rawURL string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fmt.Errorf("invalid URL %s", redactURL(rawURL))
	}
	req.Header.Set("Accept", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("GET %s: %w", redactURL(rawURL), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", redactURL(rawURL), resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentLen+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", redactURL(rawURL), err)
	}
	if len(b) > maxDocumentLen {
		return fmt.Errorf("GET %s: document larger than %d bytes", redactURL(rawURL), maxDocumentLen)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: not a JSON document of the expected shape", redactURL(rawURL))
	}
	return nil
}

// redactURL hides userinfo and query of a URL (they may hold
// credentials).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid URL>"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}
