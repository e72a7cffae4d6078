package receiver

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testIssuer is a local OIDC issuer: discovery document and key set over
// HTTP, tokens minted with its private keys.
type testIssuer struct {
	srv *httptest.Server

	mu        sync.Mutex
	keys      []map[string]any
	fetches   int
	docIssuer string // issuer named in the discovery document; the URL when ""
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	ti := &testIssuer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		ti.mu.Lock()
		iss := ti.docIssuer
		ti.mu.Unlock()
		if iss == "" {
			iss = ti.srv.URL
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                iss,
			"jwks_uri":                              ti.srv.URL + "/keys",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		ti.mu.Lock()
		defer ti.mu.Unlock()
		ti.fetches++
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": ti.keys})
	})
	ti.srv = httptest.NewServer(mux)
	t.Cleanup(ti.srv.Close)
	return ti
}

func (ti *testIssuer) url() string { return ti.srv.URL }

func (ti *testIssuer) fetchCount() int {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	return ti.fetches
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// publish adds a public key to the key set.
func (ti *testIssuer) publish(kid string, pub crypto.PublicKey) {
	var jwk map[string]any
	switch k := pub.(type) {
	case *rsa.PublicKey:
		jwk = map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
			"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		raw, _ := k.Bytes()
		jwk = map[string]any{"kty": "EC", "kid": kid, "use": "sig", "crv": "P-256",
			"x": b64(raw[1:33]), "y": b64(raw[33:])}
	}
	ti.mu.Lock()
	ti.keys = append(ti.keys, jwk)
	ti.mu.Unlock()
}

// mint signs claims with key as a compact JWS.
func mint(t testing.TB, alg, kid string, key any, claims map[string]any) string {
	t.Helper()
	hdr, _ := json.Marshal(map[string]any{"alg": alg, "kid": kid, "typ": "JWT"})
	payload, _ := json.Marshal(claims)
	input := b64(hdr) + "." + b64(payload)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	switch k := key.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
	case *ecdsa.PrivateKey:
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, k, digest[:])
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case nil:
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestGenericOIDC(t *testing.T) {
	iss := newTestIssuer(t)
	key := rsaKey(t)
	iss.publish("k1", &key.PublicKey)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	iss.publish("ec1", &ecKey.PublicKey)
	other := rsaKey(t)
	clk := &clock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}

	// The receiver of Flux's documentation: GitHub Actions claims, an
	// allow-list of repositories built from variables.
	rcv := &Receiver{
		Name: "generic-oidc-receiver", Namespace: "default", Type: GenericOIDC,
		OIDCProviders: []OIDCProvider{{
			IssuerURL: iss.url(),
			Variables: []OIDCVariable{
				{Name: "owner", Expression: "claims.repository_owner"},
				{Name: "allowedRepos", Expression: "[vars.owner + '/repo-a', vars.owner + '/repo-b']"},
			},
			Validations: []OIDCValidation{
				{Expression: "vars.owner == 'my-org'", Message: "wrong org"},
				{Expression: "claims.repository in vars.allowedRepos", Message: "repo not in allowlist"},
				{Expression: "claims.ref == 'refs/heads/main' && claims.environment == 'production'", Message: "must be main branch + production environment"},
			},
		}},
		Resources: []Resource{
			{Kind: "GitRepository", Name: "repo-a"},
			{Kind: "GitRepository", Name: "repo-b"},
		},
		ResourceFilter: "claims.repository == 'my-org/' + res.metadata.name",
	}
	if err := rcv.Validate(); err != nil {
		t.Fatal(err)
	}
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{
			"iss": iss.url(), "aud": DefaultOIDCAudience, "sub": "repo:my-org/repo-a:environment:production",
			"iat": clk.Now().Unix(), "nbf": clk.Now().Unix(), "exp": clk.Now().Add(5 * time.Minute).Unix(),
			"repository_owner": "my-org", "repository": "my-org/repo-a", "ref": "refs/heads/main", "environment": "production",
		}
		if mod != nil {
			mod(c)
		}
		return c
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

	good := mint(t, "RS256", "k1", key, claims(nil))
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"valid RS256", bearer(good), http.StatusOK},
		{"valid ES256", bearer(mint(t, "ES256", "ec1", ecKey, claims(nil))), http.StatusOK},
		{"audience list", bearer(mint(t, "RS256", "k1", key, claims(func(c map[string]any) { c["aud"] = []string{"x", DefaultOIDCAudience} }))), http.StatusOK},
		{"no kid", bearer(mint(t, "RS256", "", key, claims(nil))), http.StatusOK},
		{"validation fails", bearer(mint(t, "RS256", "k1", key, claims(func(c map[string]any) { c["repository_owner"] = "evil-org" }))), http.StatusBadRequest},
		{"repository not allowed", bearer(mint(t, "RS256", "k1", key, claims(func(c map[string]any) { c["repository"] = "my-org/repo-c" }))), http.StatusBadRequest},
		{"claim missing", bearer(mint(t, "RS256", "k1", key, claims(func(c map[string]any) { delete(c, "environment") }))), http.StatusBadRequest},
		{"wrong audience", bearer(mint(t, "RS256", "k1", key, claims(func(c map[string]any) { c["aud"] = "someone-else" }))), http.StatusBadRequest},
		{"no audience", bearer(mint(t, "RS256", "k1", key, claims(func(c map[string]any) { delete(c, "aud") }))), http.StatusBadRequest},
		{"expired", bearer(mint(t, "RS256", "k1", key, claims(func(c map[string]any) { c["exp"] = clk.Now().Add(-time.Second).Unix() }))), http.StatusBadRequest},
		{"no expiry", bearer(mint(t, "RS256", "k1", key, claims(func(c map[string]any) { delete(c, "exp") }))), http.StatusBadRequest},
		{"not yet valid", bearer(mint(t, "RS256", "k1", key, claims(func(c map[string]any) { c["nbf"] = clk.Now().Add(2 * time.Minute).Unix() }))), http.StatusBadRequest},
		{"nbf within leeway", bearer(mint(t, "RS256", "k1", key, claims(func(c map[string]any) { c["nbf"] = clk.Now().Add(30 * time.Second).Unix() }))), http.StatusOK},
		{"unknown issuer", bearer(mint(t, "RS256", "k1", key, claims(func(c map[string]any) { c["iss"] = "https://token.actions.githubusercontent.com" }))), http.StatusBadRequest},
		{"signed by another key", bearer(mint(t, "RS256", "k1", other, claims(nil))), http.StatusBadRequest},
		{"tampered claims", bearer(good[:len(good)/2] + "x" + good[len(good)/2+1:]), http.StatusBadRequest},
		{"alg none", bearer(mint(t, "none", "k1", nil, claims(nil))), http.StatusBadRequest},
		{"HS256 keyed with the public key", bearer(mint(t, "HS256", "k1", key.PublicKey.N.Bytes(), claims(nil))), http.StatusBadRequest},
		{"RS256 header on an EC signature", bearer(mint(t, "ES256", "k1", ecKey, claims(nil))), http.StatusBadRequest},
		{"no Authorization", nil, http.StatusBadRequest},
		{"basic auth", map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, http.StatusBadRequest},
		{"not a JWT", bearer("abc.def"), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, HandlerOptions{Now: clk.Now, HTTPClient: iss.srv.Client()}, rcv)
			got := f.do(t, rcv.WebhookPath(), tc.header, nil)
			if got != tc.want {
				t.Fatalf("status %d, want %d; log:\n%s", got, tc.want, f.logs.text())
			}
			if got == http.StatusOK {
				// The filter sees the verified claims: only repo-a.
				if diff := cmp.Diff([]string{"default/repo-a"}, f.rec.names()); diff != "" {
					t.Errorf("requested (-want +got):\n%s", diff)
				}
			}
			assertNoSecrets(t, f.logs.text(), "", tc.header)
		})
	}

	t.Run("failing validations are named", func(t *testing.T) {
		f := newFixture(t, HandlerOptions{Now: clk.Now}, rcv)
		tok := mint(t, "RS256", "k1", key, claims(func(c map[string]any) { c["repository_owner"] = "evil-org"; c["ref"] = "refs/heads/dev" }))
		f.do(t, rcv.WebhookPath(), bearer(tok), nil)
		log := f.logs.text()
		for _, msg := range []string{"wrong org", "must be main branch + production environment"} {
			if !strings.Contains(log, msg) {
				t.Errorf("log does not name the failed validation %q:\n%s", msg, log)
			}
		}
	})
}

func TestOIDCKeySetCache(t *testing.T) {
	iss := newTestIssuer(t)
	k1 := rsaKey(t)
	iss.publish("k1", &k1.PublicKey)
	clk := &clock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	rcv := &Receiver{Name: "r", Namespace: "ns", Type: GenericOIDC,
		OIDCProviders: []OIDCProvider{{IssuerURL: iss.url(), Audience: "my-audience",
			Validations: []OIDCValidation{{Expression: "claims.sub == 'ci'", Message: "wrong subject"}}}},
		Resources: []Resource{gitRepo("app")}}
	f := newFixture(t, HandlerOptions{Now: clk.Now}, rcv)
	token := func(kid string, key *rsa.PrivateKey) map[string]string {
		return map[string]string{"Authorization": "Bearer " + mint(t, "RS256", kid, key, map[string]any{
			"iss": iss.url(), "aud": "my-audience", "sub": "ci", "exp": clk.Now().Add(time.Hour).Unix()})}
	}

	for i := 0; i < 3; i++ {
		if got := f.do(t, rcv.WebhookPath(), token("k1", k1), nil); got != http.StatusOK {
			t.Fatalf("status %d, want 200:\n%s", got, f.logs.text())
		}
	}
	if n := iss.fetchCount(); n != 1 {
		t.Errorf("key set fetched %d times for 3 requests, want 1", n)
	}

	// The issuer rotates to k2. Within the minimum refresh interval a token
	// naming an unknown key does not make the handler fetch again.
	k2 := rsaKey(t)
	iss.publish("k2", &k2.PublicKey)
	clk.advance(10 * time.Second)
	if got := f.do(t, rcv.WebhookPath(), token("k2", k2), nil); got != http.StatusBadRequest {
		t.Errorf("unknown key within the refresh interval: status %d, want 400", got)
	}
	clk.advance(DefaultKeySetMinRefresh)
	if got := f.do(t, rcv.WebhookPath(), token("k2", k2), nil); got != http.StatusOK {
		t.Errorf("rotated key: status %d, want 200:\n%s", got, f.logs.text())
	}
	if n := iss.fetchCount(); n != 2 {
		t.Errorf("key set fetched %d times, want 2", n)
	}
	// Past the TTL the key set is fetched again.
	clk.advance(DefaultKeySetTTL)
	if got := f.do(t, rcv.WebhookPath(), token("k1", k1), nil); got != http.StatusOK {
		t.Errorf("status %d, want 200", got)
	}
	if n := iss.fetchCount(); n != 3 {
		t.Errorf("key set fetched %d times, want 3", n)
	}
}

func TestOIDCDiscoveryIssuerMismatch(t *testing.T) {
	iss := newTestIssuer(t)
	k := rsaKey(t)
	iss.publish("k1", &k.PublicKey)
	iss.docIssuer = "https://impostor.example"
	rcv := &Receiver{Name: "r", Namespace: "ns", Type: GenericOIDC,
		OIDCProviders: []OIDCProvider{{IssuerURL: iss.url(),
			Validations: []OIDCValidation{{Expression: "true", Message: "never"}}}},
		Resources: []Resource{gitRepo("app")}}
	f := newFixture(t, HandlerOptions{}, rcv)
	tok := mint(t, "RS256", "k1", k, map[string]any{"iss": iss.url(), "aud": DefaultOIDCAudience, "exp": time.Now().Add(time.Hour).Unix()})
	if got := f.do(t, rcv.WebhookPath(), map[string]string{"Authorization": "Bearer " + tok}, nil); got != http.StatusBadRequest {
		t.Errorf("status %d, want 400", got)
	}
}

func TestGCR(t *testing.T) {
	iss := newTestIssuer(t)
	key := rsaKey(t)
	iss.publish("g1", &key.PublicKey)
	const email = "flux-receiver@my-project.iam.gserviceaccount.com"
	rcv := &Receiver{
		Name: "gcr-receiver", Namespace: "apps", Type: GCR, Token: "random-token",
		Email: email, Audience: "https://flux.example/hook/abc",
		Resources: []Resource{{APIVersion: "image.toolkit.fluxcd.io/v1", Kind: "ImageRepository", Name: "*",
			MatchLabels: map[string]string{"registry": "gar"}}},
		ResourceFilter: "req.tag.contains(res.metadata.name)",
	}
	if err := rcv.Validate(); err != nil {
		t.Fatal(err)
	}
	resolver := ResolverFunc(func(_ context.Context, ref Resource) ([]Object, error) {
		return []Object{
			{APIVersion: ref.APIVersion, Kind: ref.Kind, Namespace: ref.Namespace, Name: "hello-world", Labels: ref.MatchLabels},
			{APIVersion: ref.APIVersion, Kind: ref.Kind, Namespace: ref.Namespace, Name: "other-image", Labels: ref.MatchLabels},
		}, nil
	})
	// A Pub/Sub push as Google documents it, carrying the Artifact
	// Registry event of Flux's documentation.
	event := `{"action":"INSERT","digest":"us-east1-docker.pkg.dev/my-project/my-repo/hello-world@sha256:6ec128e26cd5...","tag":"us-east1-docker.pkg.dev/my-project/my-repo/hello-world:1.1"}`
	push := func(data string) []byte {
		return []byte(`{"message":{"attributes":{"key":"value"},"data":"` + data + `","messageId":"2070443601311540","message_id":"2070443601311540","publishTime":"2021-02-26T19:13:55.749Z","publish_time":"2021-02-26T19:13:55.749Z"},"subscription":"projects/myproject/subscriptions/mysubscription"}`)
	}
	body := push(base64.StdEncoding.EncodeToString([]byte(event)))
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": "https://accounts.google.com", "aud": rcv.Audience, "azp": "1234567890",
			"email": email, "email_verified": true, "sub": "1234567890",
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	header := func(tok string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
	}
	for _, tc := range []struct {
		name   string
		header map[string]string
		body   []byte
		want   int
	}{
		{"valid", header(mint(t, "RS256", "g1", key, claims(nil))), body, http.StatusOK},
		{"issuer without scheme", header(mint(t, "RS256", "g1", key, claims(func(c map[string]any) { c["iss"] = "accounts.google.com" }))), body, http.StatusOK},
		{"other issuer", header(mint(t, "RS256", "g1", key, claims(func(c map[string]any) { c["iss"] = "https://evil.example" }))), body, http.StatusBadRequest},
		{"other email", header(mint(t, "RS256", "g1", key, claims(func(c map[string]any) { c["email"] = "someone@evil.example" }))), body, http.StatusBadRequest},
		{"email not verified", header(mint(t, "RS256", "g1", key, claims(func(c map[string]any) { c["email_verified"] = false }))), body, http.StatusBadRequest},
		{"email_verified missing", header(mint(t, "RS256", "g1", key, claims(func(c map[string]any) { delete(c, "email_verified") }))), body, http.StatusBadRequest},
		{"other audience", header(mint(t, "RS256", "g1", key, claims(func(c map[string]any) { c["aud"] = "https://other.example" }))), body, http.StatusBadRequest},
		{"expired", header(mint(t, "RS256", "g1", key, claims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }))), body, http.StatusBadRequest},
		{"forged", header(mint(t, "RS256", "g1", rsaKey(t), claims(nil))), body, http.StatusBadRequest},
		{"no token", map[string]string{"Content-Type": "application/json"}, body, http.StatusBadRequest},
		{"data not base64", header(mint(t, "RS256", "g1", key, claims(nil))), push("%%%"), http.StatusBadRequest},
		{"data not JSON", header(mint(t, "RS256", "g1", key, claims(nil))), push(base64.StdEncoding.EncodeToString([]byte("nope"))), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, HandlerOptions{GoogleIssuerURL: iss.url(), Resolver: resolver}, rcv)
			got := f.do(t, rcv.WebhookPath(), tc.header, tc.body)
			if got != tc.want {
				t.Fatalf("status %d, want %d; log:\n%s", got, tc.want, f.logs.text())
			}
			if got == http.StatusOK {
				if diff := cmp.Diff([]string{"apps/hello-world"}, f.rec.names()); diff != "" {
					t.Errorf("requested (-want +got):\n%s", diff)
				}
			}
			assertNoSecrets(t, f.logs.text(), rcv.Token, tc.header)
		})
	}
}
