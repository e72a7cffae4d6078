package provider

import (
	"context"
	"crypto/rsa"
	"encoding/json"
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

// fakeGoogle serves an OAuth 2.0 token endpoint that verifies JWT-bearer
// assertions with the service account's public key, and Pub/Sub's publish
// method, which accepts only the access tokens the endpoint issued.
type fakeGoogle struct {
	srv      *httptest.Server
	pub      *rsa.PublicKey
	email    string
	keyID    string
	tokenURI string
	mu       sync.Mutex
	issued   map[string]bool
	mints    int
	reqs     []string
}

func newFakeGoogle(t *testing.T, pub *rsa.PublicKey, tokenURI string) *fakeGoogle {
	f := &fakeGoogle{pub: pub, email: "flux@my-project.iam.gserviceaccount.com", keyID: "kid-1", tokenURI: tokenURI, issued: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGoogle) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

func (f *fakeGoogle) checkAssertion(form url.Values) error {
	if g := form.Get("grant_type"); g != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		return fmt.Errorf("grant_type %q", g)
	}
	header, claims, err := verifyRS256(form.Get("assertion"), f.pub)
	if err != nil {
		return err
	}
	now := float64(time.Now().Unix())
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	switch {
	case header["kid"] != f.keyID:
		return fmt.Errorf("kid %v", header["kid"])
	case claims["iss"] != f.email:
		return fmt.Errorf("iss %v", claims["iss"])
	case claims["aud"] != f.tokenURI:
		return fmt.Errorf("aud %v, want %s", claims["aud"], f.tokenURI)
	case claims["scope"] != "https://www.googleapis.com/auth/pubsub":
		return fmt.Errorf("scope %v", claims["scope"])
	case iat == 0 || iat > now+1 || exp <= now || exp-iat > 3600:
		return fmt.Errorf("iat %v / exp %v out of range", claims["iat"], claims["exp"])
	}
	return nil
}

func (f *fakeGoogle) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	host := r.Header.Get("X-Original-Host")
	f.mu.Lock()
	f.reqs = append(f.reqs, r.Method+" "+host+r.URL.Path)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if "https://"+host+r.URL.Path == f.tokenURI {
		form, err := url.ParseQuery(string(body))
		if err == nil && r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			err = errors.New("not a form")
		}
		if err == nil {
			err = f.checkAssertion(form)
		}
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": err.Error()})
			return
		}
		f.mu.Lock()
		f.mints++
		tok := fmt.Sprintf("ya29.minted-%d", f.mints)
		f.issued[tok] = true
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
		return
	}
	if host != "pubsub.googleapis.com" || r.URL.Path != "/v1/projects/my-project/topics/flux-events:publish" {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	ok := f.issued[tok]
	f.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":{"code":401,"status":"UNAUTHENTICATED"}}`)
		return
	}
	_, _ = io.WriteString(w, `{"messageIds":["1"]}`)
}

func serviceAccountKey(t *testing.T, keyPEM []byte, tokenURI string) string {
	t.Helper()
	k := map[string]string{
		"type": "service_account", "project_id": "my-project", "private_key_id": "kid-1",
		"private_key": string(keyPEM), "client_email": "flux@my-project.iam.gserviceaccount.com",
	}
	if tokenURI != "" {
		k["token_uri"] = tokenURI
	}
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPubSubServiceAccount(t *testing.T) {
	key, keyPEM := testRSAKey(t, true)
	f := newFakeGoogle(t, &key.PublicKey, GoogleTokenURI)
	u, _ := url.Parse(f.srv.URL)
	cache := &TokenCache{}
	for range 2 {
		snd, err := New(Config{Type: TypeGooglePubSub, Address: "my-project", Channel: "flux-events",
			Token: serviceAccountKey(t, keyPEM, ""), TokenCache: cache, Transport: redirect{sink: u}, Retry: Retry{Max: -1}})
		if err != nil {
			t.Fatal(err)
		}
		if err := snd.Post(context.Background(), testEvent()); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"POST oauth2.googleapis.com/token",
		"POST pubsub.googleapis.com/v1/projects/my-project/topics/flux-events:publish",
		"POST pubsub.googleapis.com/v1/projects/my-project/topics/flux-events:publish",
	}
	if got := strings.Join(f.requests(), "\n"); got != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}

	// The key's own token_uri is used.
	f = newFakeGoogle(t, &key.PublicKey, "https://oauth2.example.org/v4/token")
	u, _ = url.Parse(f.srv.URL)
	snd, err := New(Config{Type: TypeGooglePubSub, Address: "my-project", Channel: "flux-events",
		Token: serviceAccountKey(t, keyPEM, "https://oauth2.example.org/v4/token"), Transport: redirect{sink: u}, Retry: Retry{Max: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Post(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	if f.requests()[0] != "POST oauth2.example.org/v4/token" {
		t.Errorf("token request %q", f.requests()[0])
	}

	// A key the endpoint does not know is refused without retries, and the
	// error holds neither the assertion nor the key.
	_, otherPEM := testRSAKey(t, false)
	f = newFakeGoogle(t, &key.PublicKey, GoogleTokenURI)
	u, _ = url.Parse(f.srv.URL)
	snd, err = New(Config{Type: TypeGooglePubSub, Address: "my-project", Channel: "flux-events",
		Token: serviceAccountKey(t, otherPEM, ""), Transport: redirect{sink: u}, Retry: Retry{Max: 3, MinWait: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	err = snd.Post(context.Background(), testEvent())
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadRequest || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("wrong key: %v, want a 400 invalid_grant", err)
	}
	if len(f.requests()) != 1 {
		t.Errorf("%d requests, want the one token request", len(f.requests()))
	}
	if strings.Contains(err.Error(), "eyJ") || strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Errorf("error leaks a credential: %v", err)
	}
}

func TestPubSubCredentialsConfig(t *testing.T) {
	_, keyPEM := testRSAKey(t, true)
	for _, tt := range []struct {
		token, want string
	}{
		{`{"type": "authorized_user", "refresh_token": "secret-refresh"}`, `"authorized_user"`},
		{`{"type": "external_account"}`, `"external_account"`},
		{`{"type": "service_account", "client_email": "a@b", "private_key": "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n"}`, "private_key"},
		{`{"type": "service_account", "private_key": ` + fmt.Sprintf("%q", keyPEM) + `}`, "client_email"},
		{serviceAccountKey(t, keyPEM, "http://oauth2.example.org/token"), "token_uri"},
		{`{"type": "service_account", secret`, "JSON"},
	} {
		_, err := New(Config{Type: TypeGooglePubSub, Address: "p", Channel: "t", Token: tt.token})
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("token %.40s…: %v, want an invalid-config error naming %s", tt.token, err, tt.want)
		}
		if err != nil && (strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "c2VjcmV0")) {
			t.Errorf("error leaks the credentials: %v", err)
		}
	}
}
