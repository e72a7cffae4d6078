package gcs_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gitopskit/gitopskit/internal/testcert"
	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/bucket"
	"github.com/gitopskit/gitopskit/source/bucket/gcs"
)

const (
	saEmail = "fetcher@gitopskit-test.iam.gserviceaccount.com"
	saKeyID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0a1b2c3d4"
)

// authFront stands in for Google's side of authentication: an OAuth2
// token endpoint (/token) that grants a token for a JWT-bearer assertion
// only when the assertion is signed by the registered key and names the
// service account, the endpoint and the read-only scope; and an HTTPS
// front that lets a request through to the emulator only when it carries
// a token it granted. Both are served over TLS with a certificate of CA.
type authFront struct {
	URL  string
	CA   []byte
	Name string // the host name clients use instead of 127.0.0.1, if set

	pub      *rsa.PublicKey
	mu       sync.Mutex
	grants   int
	granted  map[string]bool
	refusals []string // why each assertion was refused
	passed   int
	denied   int
	asserted []string // every assertion received
}

func newAuthFront(t *testing.T, emu *emulator, registered *rsa.PublicKey) *authFront {
	t.Helper()
	certs := testcert.New(t)
	pair, err := tls.X509KeyPair(certs.Cert, certs.Key)
	if err != nil {
		t.Fatal(err)
	}
	return newAuthFrontWith(t, emu, registered, certs.CA, pair)
}

// newAuthFrontWith is newAuthFront serving the certificate pair, issued
// by ca.
func newAuthFrontWith(t *testing.T, emu *emulator, registered *rsa.PublicKey, ca []byte, pair tls.Certificate) *authFront {
	t.Helper()
	target, _ := url.Parse(emu.URL)
	f := &authFront{CA: ca, pub: registered, granted: map[string]bool{}}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			f.token(w, r)
			return
		}
		auth := r.Header.Get("Authorization")
		f.mu.Lock()
		ok := strings.HasPrefix(auth, "Bearer ") && f.granted[strings.TrimPrefix(auth, "Bearer ")]
		if ok {
			f.passed++
		} else {
			f.denied++
		}
		f.mu.Unlock()
		if !ok {
			// Echo the credentials, as a careless server might.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
				"code": 401, "message": "Invalid Credentials (Authorization: " + auth + ")",
				"errors": []map[string]string{{"reason": "authError", "message": "token " + strings.TrimPrefix(auth, "Bearer ") + " unknown"}},
			}})
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// token serves the JWT-bearer grant (RFC 7523).
func (f *authFront) token(w http.ResponseWriter, r *http.Request) {
	refuse := func(why string, assertion string) {
		f.mu.Lock()
		f.refusals = append(f.refusals, why)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		// Echo the assertion and the key id, as a careless server might.
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant",
			"error_description": why + " in " + assertion + " (kid " + saKeyID + ")"})
	}
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		refuse("not a form POST", "")
		return
	}
	assertion := r.PostForm.Get("assertion")
	f.mu.Lock()
	f.asserted = append(f.asserted, assertion)
	f.mu.Unlock()
	if g := r.PostForm.Get("grant_type"); g != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		refuse("grant_type "+g, assertion)
		return
	}
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		refuse("not a JWT", assertion)
		return
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		refuse("signature encoding", assertion)
		return
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(f.pub, crypto.SHA256, digest[:], sig); err != nil {
		refuse("Invalid JWT Signature", assertion)
		return
	}
	var header struct{ Alg, Kid, Typ string }
	var claims struct {
		Iss, Scope, Aud string
		Exp, Iat        int64
	}
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	c, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(h, &header) != nil || json.Unmarshal(c, &claims) != nil {
		refuse("JWT JSON", assertion)
		return
	}
	now := time.Now().Unix()
	switch {
	case header.Alg != "RS256" || header.Kid != saKeyID:
		refuse(fmt.Sprintf("header %+v", header), assertion)
	case claims.Iss != saEmail:
		refuse("issuer "+claims.Iss, assertion)
	case claims.Aud != f.tokenURL():
		refuse("audience "+claims.Aud, assertion)
	case claims.Scope != gcs.ReadOnlyScope:
		refuse("scope "+claims.Scope, assertion)
	case claims.Exp <= now || claims.Iat > now+60 || claims.Exp-claims.Iat > 3600:
		refuse("validity", assertion)
	default:
		tok := fmt.Sprintf("ya29.granted-%d-%x", now, sha256.Sum256([]byte(assertion)))
		f.mu.Lock()
		f.grants++
		f.granted[tok] = true
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
	}
}

// tokenURL is the token endpoint's URL, under the name the front is
// reached by.
func (f *authFront) tokenURL() string {
	if f.Name != "" {
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(f.URL, "https://"))
		return "https://" + net.JoinHostPort(f.Name, port) + "/token"
	}
	return f.URL + "/token"
}

// counts returns the grants, the requests let through and those denied.
func (f *authFront) counts() (grants, passed, denied int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.grants, f.passed, f.denied
}

// grant registers a token as granted, for a caller-supplied token.
func (f *authFront) grant(tok string) {
	f.mu.Lock()
	f.granted[tok] = true
	f.mu.Unlock()
}

// serviceAccountKey returns a service-account JSON key around a new RSA
// key, exchanged at tokenURI, its PEM private key and its public half.
func serviceAccountKey(t *testing.T, tokenURI string) ([]byte, string, *rsa.PublicKey) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	data, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "gitopskit-test", "private_key_id": saKeyID,
		"private_key": keyPEM, "client_email": saEmail, "client_id": "1234567890",
		"auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": tokenURI,
	})
	if err != nil {
		t.Fatal(err)
	}
	return data, keyPEM, &k.PublicKey
}

// assertNoSecret fails when text holds the private key (whole, a line of
// it, its body), its id, an assertion or a token.
func assertNoSecret(t *testing.T, text, keyPEM string, others ...string) {
	t.Helper()
	var body strings.Builder
	for _, line := range strings.Split(keyPEM, "\n") {
		if line == "" || strings.HasPrefix(line, "-----") {
			continue
		}
		body.WriteString(line)
		if strings.Contains(text, line) {
			t.Errorf("error text holds a line of the private key: %s", text)
			return
		}
	}
	for _, s := range append([]string{body.String(), saKeyID, "PRIVATE KEY"}, others...) {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("error text holds a secret (%.12s...): %s", s, text)
		}
	}
}

func TestServiceAccountKey(t *testing.T) {
	ctx := context.Background()
	emu := startEmulator(t)
	emu.MakeBucket(t, "private", map[string]string{"apps/a.yaml": "a: 1\n", "apps/b.yaml": "b: 2\n", "c.yaml": "c\n"})

	// The front needs the key's public half and the key needs the front's
	// URL: make the key first with a placeholder, then fix its token_uri.
	tmpKey, keyPEM, pub := serviceAccountKey(t, "https://placeholder.invalid/token")
	front := newAuthFront(t, emu, pub)
	key := []byte(strings.Replace(string(tmpKey), "https://placeholder.invalid/token", front.URL+"/token", 1))

	p := newProvider(t, gcs.Options{Bucket: "private", Endpoint: front.URL, CA: front.CA, ServiceAccountKey: key})
	b := &bucket.Bucket{Provider: p, Workers: 3}
	dir := filepath.Join(t.TempDir(), "out")
	snap, err := b.Fetch(ctx, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := tree(t, dir); len(got) != 3 || got["apps/b.yaml"] != "b: 2\n" {
		t.Errorf("fetched %v", got)
	}
	if _, err := b.Fetch(ctx, t.TempDir(), snap.Revision); !errors.Is(err, source.ErrUnchanged) {
		t.Errorf("no-op: %v", err)
	}
	grants, passed, denied := front.counts()
	// 1 listing + 3 × (attributes + content), then 1 listing.
	if grants != 1 || passed != 8 || denied != 0 {
		t.Errorf("%d tokens granted, %d requests let through, %d denied; want 1, 8, 0", grants, passed, denied)
	}

	// The same account with another key: the token endpoint finds the
	// signature wrong and refuses the grant.
	otherKey, otherPEM, _ := serviceAccountKey(t, front.URL+"/token")
	p = newProvider(t, gcs.Options{Bucket: "private", Endpoint: front.URL, CA: front.CA, ServiceAccountKey: otherKey})
	err = p.List(ctx, "", func(bucket.Object) error { return nil })
	if !errors.Is(err, source.ErrAuth) {
		t.Fatalf("refused grant: %v, want ErrAuth", err)
	}
	front.mu.Lock()
	refusals, asserted := append([]string(nil), front.refusals...), append([]string(nil), front.asserted...)
	front.mu.Unlock()
	if len(refusals) != 1 || refusals[0] != "Invalid JWT Signature" {
		t.Errorf("token endpoint refusals %q, want one for the signature", refusals)
	}
	t.Logf("refused grant: %v", err)
	if !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("error %q does not say the grant was refused", err)
	}
	assertNoSecret(t, err.Error(), otherPEM, asserted...)
	assertNoSecret(t, err.Error(), keyPEM)
	if _, _, denied := front.counts(); denied != 0 {
		t.Errorf("%d requests reached the front without a token", denied)
	}
}

func TestTokenSource(t *testing.T) {
	ctx := context.Background()
	emu := startEmulator(t)
	emu.MakeBucket(t, "workload", map[string]string{"k.yaml": "v\n"})
	_, _, pub := serviceAccountKey(t, "https://unused.invalid/token")
	front := newAuthFront(t, emu, pub)
	front.grant("ya29.workload-identity-token-1")

	// A caller's token source, as workload identity would supply.
	p := newProvider(t, gcs.Options{Bucket: "workload", Endpoint: front.URL, CA: front.CA,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "ya29.workload-identity-token-1"})})
	if got := listAll(t, p, ""); len(got) != 1 {
		t.Fatalf("listed %v", got)
	}

	// A caller's client that authenticates itself.
	certs := testcert.Server{CA: front.CA}
	hc := &http.Client{Transport: &oauth2.Transport{Base: certs.Transport(t),
		Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "ya29.workload-identity-token-1"})}}
	p = newProvider(t, gcs.Options{Bucket: "workload", Endpoint: front.URL, HTTPClient: hc})
	if got := listAll(t, p, ""); len(got) != 1 {
		t.Fatalf("listed %v", got)
	}

	// A token the front does not know: 401, whose echo is masked.
	p = newProvider(t, gcs.Options{Bucket: "workload", Endpoint: front.URL, CA: front.CA,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "opaque-unknown-token-Zx81"})})
	_, _, err := p.Get(ctx, "k.yaml")
	if !errors.Is(err, source.ErrAuth) {
		t.Fatalf("unknown token: %v, want ErrAuth", err)
	}
	t.Logf("unknown token: %v", err)
	assertNoSecret(t, err.Error(), "", "opaque-unknown-token-Zx81")

	// A token source that fails.
	p = newProvider(t, gcs.Options{Bucket: "workload", Endpoint: front.URL, CA: front.CA,
		TokenSource: failingSource{}})
	err = p.List(ctx, "", func(bucket.Object) error { return nil })
	if !errors.Is(err, source.ErrAuth) || !strings.Contains(err.Error(), "no identity bound") {
		t.Errorf("failing token source: %v, want ErrAuth with its reason", err)
	}
}

type failingSource struct{}

func (failingSource) Token() (*oauth2.Token, error) {
	return nil, errors.New("no identity bound to this workload")
}

// issueCert issues a CA and a certificate for the DNS name, and returns
// the CA's PEM and the certificate pair.
func issueCert(t *testing.T, name string) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gcs test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{name},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// connectProxy is an HTTP CONNECT proxy that requires basic credentials
// and resolves one host name, which resolves nowhere else, to 127.0.0.1.
type connectProxy struct {
	*httptest.Server
	mu      sync.Mutex
	tunnels []string // CONNECT targets let through
	refused int
}

func newConnectProxy(t *testing.T, name, user, password string) *connectProxy {
	p := &connectProxy{}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, port, err := net.SplitHostPort(r.Host)
		if r.Method != http.MethodConnect || err != nil || host != name || r.Header.Get("Proxy-Authorization") != want {
			p.mu.Lock()
			p.refused++
			p.mu.Unlock()
			http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
			return
		}
		up, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", port))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		p.mu.Lock()
		p.tunnels = append(p.tunnels, r.Host)
		p.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		down, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		go func() {
			io.Copy(up, buf)
			up.Close()
		}()
		io.Copy(down, up)
		down.Close()
	}))
	t.Cleanup(p.Close)
	return p
}

// TestProxyCarriesTokenRequests reaches the front and its token endpoint
// by a name only the proxy resolves: both the token exchange and the
// storage requests must go through the proxy, with its credentials.
func TestProxyCarriesTokenRequests(t *testing.T) {
	const name = "gcs.gitopskit.test"
	emu := startEmulator(t)
	emu.MakeBucket(t, "proxied", map[string]string{"a.yaml": "a\n"})
	ca, pair := issueCert(t, name)
	tmpKey, keyPEM, pub := serviceAccountKey(t, "https://placeholder.invalid/token")
	front := newAuthFrontWith(t, emu, pub, ca, pair)
	front.Name = name
	key := []byte(strings.Replace(string(tmpKey), "https://placeholder.invalid/token", front.tokenURL(), 1))
	proxy := newConnectProxy(t, name, "gate", "proxy-secret-Q7")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(front.URL, "https://"))

	p := newProvider(t, gcs.Options{Bucket: "proxied", Endpoint: "https://" + net.JoinHostPort(name, port), CA: ca,
		ServiceAccountKey: key, Proxy: &bucket.Proxy{URL: proxy.URL, Username: "gate", Password: "proxy-secret-Q7"}})
	if got := listAll(t, p, ""); len(got) != 1 {
		t.Fatalf("listed %v", got)
	}
	grants, passed, _ := front.counts()
	proxy.mu.Lock()
	tunnels, refused := len(proxy.tunnels), proxy.refused
	proxy.mu.Unlock()
	if grants != 1 || passed != 1 || tunnels == 0 || refused != 0 {
		t.Errorf("%d grants, %d requests let through, %d tunnels, %d refused; want 1, 1, some, 0", grants, passed, tunnels, refused)
	}

	// Wrong proxy credentials: refused by the proxy, and masked.
	p = newProvider(t, gcs.Options{Bucket: "proxied", Endpoint: "https://" + net.JoinHostPort(name, port), CA: ca,
		ServiceAccountKey: key, MaxRetries: -1,
		Proxy: &bucket.Proxy{URL: proxy.URL, Username: "gate", Password: "wrong-secret-Z9"}})
	err := p.List(context.Background(), "", func(bucket.Object) error { return nil })
	if !errors.Is(err, source.ErrNetwork) || !strings.Contains(err.Error(), "Proxy Authentication Required") {
		t.Fatalf("wrong proxy credentials: %v, want ErrNetwork saying so", err)
	}
	t.Logf("wrong proxy credentials: %v", err)
	assertNoSecret(t, err.Error(), keyPEM, "wrong-secret-Z9")
}

// A token endpoint nobody answers at is a network failure, not a refusal.
func TestTokenEndpointUnreachable(t *testing.T) {
	emu := startEmulator(t)
	emu.MakeBucket(t, "lonely", map[string]string{"a": "b"})
	key, keyPEM, _ := serviceAccountKey(t, "https://"+freeAddr(t)+"/token")
	p := newProvider(t, gcs.Options{Bucket: "lonely", Endpoint: emu.URL, Insecure: true, ServiceAccountKey: key, MaxRetries: -1})
	err := p.List(context.Background(), "", func(bucket.Object) error { return nil })
	if !errors.Is(err, source.ErrNetwork) || errors.Is(err, source.ErrAuth) {
		t.Fatalf("unreachable token endpoint: %v, want ErrNetwork", err)
	}
	assertNoSecret(t, err.Error(), keyPEM)
}
