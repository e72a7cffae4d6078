package receiver

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// offline is an HTTP transport that refuses every request, so fuzzed
// tokens never reach the network.
type offline struct{}

func (offline) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("offline")
}

func fuzzHandler(t testing.TB) *Handler {
	h, err := NewHandler(HandlerOptions{
		Lookup:          Receivers{},
		Request:         func(context.Context, *Receiver, []Object) error { return nil },
		HTTPClient:      &http.Client{Transport: offline{}},
		GoogleIssuerURL: "https://issuer.invalid",
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// FuzzVerify feeds every receiver type arbitrary headers and bodies: no
// panic, and a request accepted by a signing type carries a valid MAC or
// the exact token.
func FuzzVerify(f *testing.F) {
	push := []byte(`{"ref":"refs/heads/main"}`)
	f.Add(uint8(1), push, sign("sha256", testToken, push), "push", "application/json")
	f.Add(uint8(3), push, sign("sha1", testToken, push), "push", "application/x-www-form-urlencoded")
	f.Add(uint8(4), push, testToken, "Push Hook", "")
	f.Add(uint8(9), []byte(`{"action":"CREATED","repositoryName":"npm"}`), "", "", "")
	f.Add(uint8(12), []byte(`{"context":{"id":"1","source":"s","type":"dev.cdevents.change.merged.0.2.0","timestamp":"2023-12-07T14:51:29Z"},"subject":{"id":"x"}}`), "", "dev.cdevents.change.merged", "application/json")
	f.Add(uint8(11), []byte(`{"message":{"data":"e30="}}`), "Bearer a.b.c", "", "application/json")
	f.Add(uint8(2), push, "Bearer eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lzc3Vlci5pbnZhbGlkIn0.c2ln", "", "")
	h := fuzzHandler(f)
	types := Types()
	f.Fuzz(func(t *testing.T, typ uint8, body []byte, sig, event, contentType string) {
		rcv := &Receiver{Name: "r", Namespace: "ns", Type: types[int(typ)%len(types)], Token: testToken,
			Email: "sa@example.iam.gserviceaccount.com", Audience: "aud", Events: []string{"push", "Push Hook"}}
		if rcv.Type == GenericOIDC {
			rcv.Token = ""
			rcv.OIDCProviders = []OIDCProvider{{IssuerURL: "https://issuer.invalid",
				Validations: []OIDCValidation{{Expression: "claims.sub == 'x'", Message: "m"}}}}
		}
		header := http.Header{}
		header.Set("Content-Type", contentType)
		for _, k := range []string{"X-Signature", "X-Hub-Signature-256", "X-Hub-Signature", "X-Gitlab-Token",
			"Authorization", "X-Nexus-Webhook-Signature"} {
			header.Set(k, sig)
		}
		for _, k := range []string{"X-GitHub-Event", "X-Gitlab-Event", "X-Event-Key", "Ce-Type"} {
			header.Set(k, event)
		}
		v, err := h.Verify(context.Background(), rcv, header, body)
		if err != nil {
			if strings.Contains(err.Error(), testToken) || (len(sig) > 8 && strings.Contains(err.Error(), sig)) {
				t.Fatalf("error shows a secret: %v", err)
			}
			return
		}
		if v == nil {
			t.Fatal("nil result without error")
		}
		switch rcv.Type {
		case GenericHMAC, GitHub, Bitbucket:
			alg, hexMAC, _ := strings.Cut(sig, "=")
			want := strings.TrimPrefix(sign(alg, testToken, body), alg+"=")
			if !strings.EqualFold(hexMAC, want) {
				t.Fatalf("%s accepted a wrong signature", rcv.Type)
			}
		case GitLab, Harbor:
			if sig != testToken {
				t.Fatalf("%s accepted a wrong token", rcv.Type)
			}
		case Nexus:
			m := hmac.New(sha1.New, []byte(testToken))
			m.Write(body)
			if !strings.EqualFold(sig, hex.EncodeToString(m.Sum(nil))) {
				t.Fatal("nexus accepted a wrong signature")
			}
		case GenericOIDC, GCR:
			t.Fatalf("%s accepted a token without a reachable issuer", rcv.Type)
		}
	})
}

// FuzzSignature checks the signature parser and comparison: no panic, and
// acceptance only for the MAC of the body.
func FuzzSignature(f *testing.F) {
	f.Add("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", []byte("Hello, World!"))
	f.Add("sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59", []byte("Hello, World!"))
	f.Add("sha512=", []byte{})
	f.Add("=", []byte("x"))
	f.Fuzz(func(t *testing.T, sig string, body []byte) {
		err := checkSignature(sig, []byte(testToken), body, "sha1", "sha256", "sha512")
		if err == nil {
			alg, hexMAC, _ := strings.Cut(sig, "=")
			if !strings.EqualFold(hexMAC, strings.TrimPrefix(sign(alg, testToken, body), alg+"=")) {
				t.Fatal("accepted a wrong signature")
			}
		} else if !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("error does not wrap ErrUnauthenticated: %v", err)
		}
	})
}

// FuzzJWT parses arbitrary tokens and checks them against a fixed key: no
// panic, and no token verifies but the one signed with the key.
func FuzzJWT(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	claims := map[string]any{"iss": "https://issuer.example", "aud": "a", "exp": 4102444800, "nbf": 1.5}
	signed := mint(f, "ES256", "k", key, claims)
	f.Add(signed)
	f.Add(mint(f, "RS256", "k", nil, claims))
	f.Add("e30.e30.")
	f.Add("eyJhbGciOiJub25lIn0.eyJleHAiOjFlMzA5fQ.")
	f.Add(strings.Repeat("a.", 3))
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := parseJWT(raw)
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("error does not wrap ErrUnauthenticated: %v", err)
			}
			return
		}
		_, _ = registeredClaims(tok.claims)
		if tok.verifySignature(&key.PublicKey) && raw != signed {
			// ECDSA signatures are malleable only through (r, n-s); the
			// signing input must be the one signed.
			if !bytes.Equal(tok.signingInput, []byte(signed[:strings.LastIndex(signed, ".")])) {
				t.Fatal("a token verified that was not signed with the key")
			}
		}
	})
}

// FuzzServeHTTP runs whole requests with resource filters over fuzzed
// JSON bodies: no panic, and only the status codes the handler documents.
func FuzzServeHTTP(f *testing.F) {
	f.Add([]byte(`{"tag":"us-east1-docker.pkg.dev/p/r/hello-world:1.1"}`), "application/json")
	f.Add([]byte(`[1,2]`), "application/json")
	f.Add([]byte(`{"tag":1}`), "application/json; charset=utf-8")
	f.Add([]byte(`{"tag":"a/b:c"}`), "text/plain")
	rcv := &Receiver{Name: "r", Namespace: "ns", Type: Generic, Token: "t",
		Resources: []Resource{{APIVersion: "image.toolkit.fluxcd.io/v1", Kind: "ImageRepository", Name: "*",
			MatchLabels: map[string]string{"a": "b"}, Filter: "res.metadata.name != ''"}},
		ResourceFilter: `has(req.tag) && req.tag.split('/').last().value().split(":").first().value() == res.metadata.name`,
	}
	resolver := fakeCluster{{APIVersion: "image.toolkit.fluxcd.io/v1", Kind: "ImageRepository", Namespace: "ns",
		Name: "hello-world", Labels: map[string]string{"a": "b"}}}
	h, err := NewHandler(HandlerOptions{Lookup: Receivers{rcv}, Resolver: resolver, MaxBodyBytes: 64 << 10,
		Request: func(context.Context, *Receiver, []Object) error { return nil }, Now: time.Now})
	if err != nil {
		f.Fatal(err)
	}
	path := rcv.WebhookPath()
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK, http.StatusInternalServerError, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("unexpected status %d", w.Code)
		}
	})
}
