package provider

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// verifyRS256 checks a compact JWS with pub and returns its header and
// claims; it is written from RFC 7515 and 7518, independently of signJWT.
func verifyRS256(token string, pub *rsa.PublicKey) (header, claims map[string]any, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, errors.New("not a compact JWS")
	}
	dec := func(s string, v any) error {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, v)
	}
	if err := dec(parts[0], &header); err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	if header["alg"] != "RS256" {
		return nil, nil, fmt.Errorf("alg %v", header["alg"])
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return nil, nil, fmt.Errorf("signature: %w", err)
	}
	if err := dec(parts[1], &claims); err != nil {
		return nil, nil, fmt.Errorf("claims: %w", err)
	}
	return header, claims, nil
}

// testRSAKey returns a fresh key and its PEM in PKCS #1 (pkcs8 false) or
// PKCS #8 form.
func testRSAKey(t *testing.T, pkcs8 bool) (*rsa.PrivateKey, []byte) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if !pkcs8 {
		return k, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// fakeGitHub serves GitHub's App endpoints and the repository endpoints
// the providers call. It verifies every app JWT with the App's public key
// (signature, iss, an iat in the past and an exp in the future at most ten
// minutes after iat) and accepts on repository endpoints only the
// installation tokens it issued.
type fakeGitHub struct {
	t          *testing.T
	srv        *httptest.Server
	pub        *rsa.PublicKey
	appID      string
	slug       string
	lifetime   time.Duration
	installs   map[string]int64 // "orgs/<name>" or "users/<name>" → ID
	mu         sync.Mutex
	minted     int
	tokens     map[string]bool
	reqs       []string // "<METHOD> <host><path>"
	commentsBy string   // author of the existing comment
}

func newFakeGitHub(t *testing.T, pub *rsa.PublicKey) *fakeGitHub {
	f := &fakeGitHub{t: t, pub: pub, appID: "123456", slug: "flux-app", lifetime: time.Hour,
		installs: map[string]int64{"orgs/acme": 42}, tokens: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitHub) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

func (f *fakeGitHub) mints() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.minted
}

func (f *fakeGitHub) checkJWT(r *http.Request) error {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return errors.New("no bearer JWT")
	}
	_, claims, err := verifyRS256(tok, f.pub)
	if err != nil {
		return err
	}
	now := float64(time.Now().Unix())
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	switch {
	case claims["iss"] != f.appID:
		return fmt.Errorf("iss %v, want %s", claims["iss"], f.appID)
	case iat == 0 || iat > now:
		return fmt.Errorf("iat %v is not in the past", claims["iat"])
	case exp <= now || exp-iat > 600:
		return fmt.Errorf("exp %v outside (now, iat+10m]", claims["exp"])
	}
	return nil
}

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	host := r.Header.Get("X-Original-Host")
	f.mu.Lock()
	f.reqs = append(f.reqs, r.Method+" "+host+r.URL.Path)
	f.mu.Unlock()
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	path := strings.TrimPrefix(r.URL.Path, "/api/v3")
	if path == "/app" || strings.HasPrefix(path, "/app/") || strings.HasSuffix(path, "/installation") {
		if err := f.checkJWT(r); err != nil {
			reply(http.StatusUnauthorized, map[string]string{"message": "A JSON web token could not be decoded: " + err.Error()})
			return
		}
	}
	switch {
	case r.Method == "GET" && path == "/app":
		reply(200, map[string]any{"id": 123456, "slug": f.slug})
	case r.Method == "GET" && strings.HasSuffix(path, "/installation"):
		id, ok := f.installs[strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/installation")]
		if !ok {
			reply(404, map[string]string{"message": "Not Found"})
			return
		}
		reply(200, map[string]any{"id": id})
	case r.Method == "POST" && strings.HasPrefix(path, "/app/installations/"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, "/app/installations/"), "/access_tokens")
		if id != "42" && id != "77" {
			reply(404, map[string]string{"message": "Not Found"})
			return
		}
		f.mu.Lock()
		f.minted++
		tok := fmt.Sprintf("ghs_installation%d_%d", f.minted, time.Now().UnixNano())
		f.tokens[tok] = true
		f.mu.Unlock()
		reply(201, map[string]any{"token": tok, "expires_at": time.Now().Add(f.lifetime).UTC().Format(time.RFC3339)})
	case strings.HasPrefix(path, "/repos/"):
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		f.mu.Lock()
		ok := f.tokens[tok]
		f.mu.Unlock()
		if !ok {
			reply(401, map[string]string{"message": "Bad credentials"})
			return
		}
		switch {
		case r.Method == "GET" && strings.HasSuffix(path, "/comments"):
			reply(200, []map[string]any{{"id": 9, "body": "<!-- flux-pr-comment-key:uid-1/Kustomization/flux-system/apps -->", "user": map[string]string{"login": f.commentsBy}}})
		case r.Method == "GET":
			reply(200, []any{})
		default:
			reply(201, map[string]any{})
		}
	default:
		reply(404, map[string]string{"message": "Not Found"})
	}
}

func appData(appID, install, owner string, key []byte) map[string][]byte {
	d := map[string][]byte{SecretKeyGitHubAppID: []byte(appID), SecretKeyGitHubAppPrivateKey: key}
	if install != "" {
		d[SecretKeyGitHubAppInstallationID] = []byte(install)
	}
	if owner != "" {
		d[SecretKeyGitHubAppInstallationOwner] = []byte(owner)
	}
	return d
}

func TestGitHubAppCommitStatus(t *testing.T) {
	key, pemKey := testRSAKey(t, false)
	f := newFakeGitHub(t, &key.PublicKey)
	u, _ := url.Parse(f.srv.URL)
	cache := &TokenCache{}
	// A Sender per event, as a controller builds them: the cache makes
	// them share one installation token.
	for range 3 {
		snd, err := New(Config{Type: TypeGitHub, Address: "https://github.com/acme/app", ProviderUID: "uid-1",
			SecretData: appData("123456", "42", "", pemKey), TokenCache: cache, Transport: redirect{sink: u}, Retry: Retry{Max: -1}})
		if err != nil {
			t.Fatal(err)
		}
		if err := snd.Post(context.Background(), testEvent()); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.mints(); n != 1 {
		t.Errorf("minted %d installation tokens, want 1", n)
	}
	reqs := f.requests()
	if reqs[0] != "POST api.github.com/app/installations/42/access_tokens" {
		t.Errorf("first request %q", reqs[0])
	}
	if want := "POST api.github.com/repos/acme/app/statuses/" + testSHA; reqs[2] != want {
		t.Errorf("third request %q, want %q", reqs[2], want)
	}

	// A key the App does not have is refused, not retried, and the error
	// holds neither the JWT nor the key.
	_, otherPEM := testRSAKey(t, true)
	snd, err := New(Config{Type: TypeGitHub, Address: "https://github.com/acme/app", ProviderUID: "uid-1",
		SecretData: appData("123456", "42", "", otherPEM), TokenCache: cache, Transport: redirect{sink: u}, Retry: Retry{Max: 3, MinWait: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	before := len(f.requests())
	err = snd.Post(context.Background(), testEvent())
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("wrong key: %v, want a 401 about the signature", err)
	}
	if n := len(f.requests()) - before; n != 1 {
		t.Errorf("a 401 was retried: %d requests", n)
	}
	if strings.Contains(err.Error(), "eyJ") || strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Errorf("error leaks a credential: %v", err)
	}
}

func TestGitHubAppDispatchByOwner(t *testing.T) {
	key, pemKey := testRSAKey(t, true)
	f := newFakeGitHub(t, &key.PublicKey)
	f.installs = map[string]int64{"users/jane": 77}
	u, _ := url.Parse(f.srv.URL)
	// GitHub Enterprise Server: without githubAppBaseURL the App
	// authenticates against the repository host's API.
	snd, err := New(Config{Type: TypeGitHubDispatch, Address: "https://ghe.example.com/jane/app",
		SecretData: appData("123456", "", "jane", pemKey), Transport: redirect{sink: u}, Retry: Retry{Max: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Post(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GET ghe.example.com/api/v3/orgs/jane/installation",
		"GET ghe.example.com/api/v3/users/jane/installation",
		"POST ghe.example.com/api/v3/app/installations/77/access_tokens",
		"POST ghe.example.com/api/v3/repos/jane/app/dispatches",
	}
	if got := f.requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// An owner without the App installed is an error naming the owner.
	snd, err = New(Config{Type: TypeGitHubDispatch, Address: "https://github.com/nobody/app",
		SecretData: appData("123456", "", "nobody", pemKey), Transport: redirect{sink: u}, Retry: Retry{Max: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Post(context.Background(), testEvent()); err == nil || !strings.Contains(err.Error(), `"nobody"`) {
		t.Errorf("uninstalled owner: %v", err)
	}
}

func TestGitHubAppPullRequestComment(t *testing.T) {
	key, pemKey := testRSAKey(t, false)
	f := newFakeGitHub(t, &key.PublicKey)
	f.commentsBy = "flux-app[bot]"
	u, _ := url.Parse(f.srv.URL)
	data := appData("123456", "42", "", pemKey)
	data[SecretKeyGitHubAppBaseURL] = []byte("https://github.example.net/api/v3/")
	snd, err := New(Config{Type: TypeGitHubPullRequestComment, Address: "https://github.com/acme/app", ProviderUID: "uid-1",
		SecretData: data, Transport: redirect{sink: u}, Retry: Retry{Max: -1}})
	if err != nil {
		t.Fatal(err)
	}
	e := testEvent()
	e.Metadata[MetaChangeRequestKey] = "7"
	if err := snd.Post(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	// The App's own comment ("<slug>[bot]") is updated in place; the
	// App endpoints are at githubAppBaseURL, the repository's at its host.
	want := []string{
		"GET github.example.net/api/v3/app",
		"POST github.example.net/api/v3/app/installations/42/access_tokens",
		"GET api.github.com/repos/acme/app/issues/7/comments",
		"PATCH api.github.com/repos/acme/app/issues/comments/9",
	}
	if got := f.requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestGitHubAppConfig(t *testing.T) {
	_, pemKey := testRSAKey(t, false)
	for _, tt := range []struct {
		data  map[string][]byte
		field string
	}{
		{appData("abc", "42", "", pemKey), SecretKeyGitHubAppID},
		{appData("1", "", "", pemKey), SecretKeyGitHubAppInstallationOwner},
		{appData("1", "42", "acme", pemKey), "only one"},
		{appData("1", "x", "", pemKey), SecretKeyGitHubAppInstallationID},
		{appData("1", "42", "", nil), SecretKeyGitHubAppPrivateKey},
		{appData("1", "42", "", []byte("-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0\n-----END RSA PRIVATE KEY-----\n")), SecretKeyGitHubAppPrivateKey},
		{map[string][]byte{SecretKeyGitHubAppID: []byte("1"), SecretKeyGitHubAppInstallationID: []byte("2"), SecretKeyGitHubAppPrivateKey: pemKey, SecretKeyGitHubAppBaseURL: []byte("ftp://x")}, SecretKeyGitHubAppBaseURL},
	} {
		for _, typ := range []string{TypeGitHub, TypeGitHubDispatch, TypeGitHubPullRequestComment} {
			_, err := New(Config{Type: typ, Address: "https://github.com/o/r", ProviderUID: "u", SecretData: tt.data})
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("%s: %v, want an invalid-config error naming %s", typ, err, tt.field)
			}
			if err != nil && (strings.Contains(err.Error(), "c2VjcmV0") || strings.Contains(err.Error(), "PRIVATE KEY-----")) {
				t.Errorf("error leaks the key: %v", err)
			}
		}
	}
	// A token wins over App keys, as in Flux.
	s := newSink(t, func(recorded) (int, string) { return 200, `[]` })
	u, _ := url.Parse(s.srv.URL)
	snd, err := New(Config{Type: TypeGitHub, Address: "https://github.com/o/r", ProviderUID: "u", Token: "ghp_token",
		SecretData: appData("1", "42", "", pemKey), Transport: redirect{sink: u}})
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Post(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	if h := s.requests()[0].Header.Get("Authorization"); h != "Bearer ghp_token" {
		t.Errorf("Authorization %q", h)
	}
}

func TestTokenCacheRefresh(t *testing.T) {
	var c TokenCache
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	mints := 0
	mint := func(lifetime time.Duration) func(context.Context) (mintedToken, error) {
		return func(context.Context) (mintedToken, error) {
			mints++
			return newMintedToken(fmt.Sprint("tok", mints), "", now, now.Add(lifetime)), nil
		}
	}
	get := func(key string, lifetime time.Duration) string {
		tok, err := c.get(context.Background(), key, clock, mint(lifetime))
		if err != nil {
			t.Fatal(err)
		}
		return tok.value
	}
	if v := get("a", time.Hour); v != "tok1" {
		t.Fatal(v)
	}
	now = now.Add(54 * time.Minute)
	if v := get("a", time.Hour); v != "tok1" {
		t.Errorf("at 54m: %s, want the cached tok1", v)
	}
	now = now.Add(time.Minute) // five minutes before expiry
	if v := get("a", time.Hour); v != "tok2" {
		t.Errorf("at 55m: %s, want a new token", v)
	}
	// Another key is another token; a short lifetime refreshes halfway.
	if v := get("b", 4*time.Minute); v != "tok3" {
		t.Errorf("key b: %s", v)
	}
	now = now.Add(2 * time.Minute)
	if v := get("b", 4*time.Minute); v != "tok4" {
		t.Errorf("key b after half its lifetime: %s", v)
	}
	// Failures are not cached.
	_, err := c.get(context.Background(), "c", clock, func(context.Context) (mintedToken, error) { return mintedToken{}, errors.New("boom") })
	if err == nil {
		t.Fatal("no error")
	}
	if v := get("c", time.Hour); v != "tok5" {
		t.Errorf("after a failure: %s", v)
	}
	// Expired entries are forgotten.
	now = now.Add(2 * time.Hour)
	get("d", time.Hour)
	c.mu.Lock()
	n := len(c.entries)
	c.mu.Unlock()
	if n != 1 {
		t.Errorf("%d entries after the others expired, want 1", n)
	}
}
