package gcs_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/bucket"
	"github.com/gitopskit/gitopskit/source/bucket/gcs"
)

func TestNewEndpoints(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		insecure bool
		want     string
	}{
		{"", false, "https://storage.googleapis.com"},
		{"storage.googleapis.com", false, "https://storage.googleapis.com"},
		{"https://storage.googleapis.com/", false, "https://storage.googleapis.com"},
		{"storage-example.p.googleapis.com:443", false, "https://storage-example.p.googleapis.com:443"},
		{"https://gateway.example.com/gcs/storage/v1", false, "https://gateway.example.com"},
		{"127.0.0.1:4443", true, "http://127.0.0.1:4443"},
		{"http://127.0.0.1:4443", true, "http://127.0.0.1:4443"},
	} {
		p, err := gcs.New(context.Background(), gcs.Options{Bucket: "manifests", Endpoint: tc.endpoint, Insecure: tc.insecure})
		if err != nil {
			t.Errorf("%q: %v", tc.endpoint, err)
			continue
		}
		if got := p.String(); got != "manifests at "+tc.want {
			t.Errorf("%q: String() = %q, want %q", tc.endpoint, got, "manifests at "+tc.want)
		}
		p.Close()
	}
}

func TestNewInvalid(t *testing.T) {
	validKey, keyPEM, _ := serviceAccountKey(t, "https://oauth2.example.com/token")
	withKey := func(from, to string) []byte {
		t.Helper()
		out := strings.Replace(string(validKey), from, to, 1)
		if out == string(validKey) {
			t.Fatalf("%q not in the key", from)
		}
		return []byte(out)
	}
	static := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "ya29.static"})
	for _, tc := range []struct {
		name string
		opts gcs.Options
		want string // in the error text
	}{
		{"no bucket", gcs.Options{}, "no bucket name"},
		{"uppercase bucket", gcs.Options{Bucket: "Manifests"}, "lowercase"},
		{"bucket too short", gcs.Options{Bucket: "ab"}, "3 to 222"},
		{"bucket with slash", gcs.Options{Bucket: "a/b/c"}, "only lowercase letters"},
		{"bucket with empty label", gcs.Options{Bucket: "a..b"}, "dot-separated"},
		{"http without insecure", gcs.Options{Bucket: "b-1", Endpoint: "http://127.0.0.1:4443"}, "set Insecure"},
		{"https with insecure", gcs.Options{Bucket: "b-1", Endpoint: "https://127.0.0.1:4443", Insecure: true}, "asks for https"},
		{"insecure default endpoint", gcs.Options{Bucket: "b-1", Insecure: true}, "http:// endpoint"},
		{"endpoint userinfo", gcs.Options{Bucket: "b-1", Endpoint: "https://user:hunter22@example.com"}, "user information"},
		{"endpoint query", gcs.Options{Bucket: "b-1", Endpoint: "https://example.com/?key=abc"}, "query"},
		{"endpoint scheme", gcs.Options{Bucket: "b-1", Endpoint: "gs://example.com"}, "not https or http"},
		{"two credentials", gcs.Options{Bucket: "b-1", ServiceAccountKey: validKey, TokenSource: static}, "exclude each other"},
		{"client and adc", gcs.Options{Bucket: "b-1", HTTPClient: http.DefaultClient, ApplicationDefault: true}, "exclude each other"},
		{"client and proxy", gcs.Options{Bucket: "b-1", HTTPClient: http.DefaultClient, Proxy: &bucket.Proxy{URL: "http://proxy:3128"}}, "HTTPClient"},
		{"ca and insecure", gcs.Options{Bucket: "b-1", Endpoint: "http://127.0.0.1:1", Insecure: true, CA: []byte("x")}, "Insecure"},
		{"ca without pem", gcs.Options{Bucket: "b-1", CA: []byte("not a certificate")}, "no PEM certificate"},
		{"proxy scheme", gcs.Options{Bucket: "b-1", Proxy: &bucket.Proxy{URL: "ftp://proxy:21", Password: "proxy-pass-77"}}, "not http, https or socks5"},
		{"page size", gcs.Options{Bucket: "b-1", PageSize: 1001}, "PageSize"},
		{"key not json", gcs.Options{Bucket: "b-1", ServiceAccountKey: []byte(keyPEM)}, "not JSON"},
		{"key not object", gcs.Options{Bucket: "b-1", ServiceAccountKey: []byte(`["x"]`)}, "not a JSON object"},
		{"external account", gcs.Options{Bucket: "b-1", ServiceAccountKey: withKey(`"type":"service_account"`, `"type":"external_account"`)}, `"external_account": only "service_account"`},
		{"key field type", gcs.Options{Bucket: "b-1", ServiceAccountKey: []byte(`{"type":"service_account","private_key":5}`)}, `field "private_key" is not a string`},
		{"no email", gcs.Options{Bucket: "b-1", ServiceAccountKey: withKey(`"client_email":"`+saEmail+`"`, `"client_email":""`)}, "no client_email"},
		{"key not pem", gcs.Options{Bucket: "b-1", ServiceAccountKey: withKey("-----BEGIN PRIVATE KEY-----", "BEGIN")}, "not PEM-encoded"},
		{"key not rsa", gcs.Options{Bucket: "b-1", ServiceAccountKey: withKey("-----BEGIN PRIVATE KEY-----\\n", "-----BEGIN PRIVATE KEY-----\\nAAAA")}, "not an RSA private key"},
		{"token uri http", gcs.Options{Bucket: "b-1", ServiceAccountKey: withKey("https://oauth2.example.com/token", "http://oauth2.example.com/token")}, "travel in clear"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := gcs.New(context.Background(), tc.opts)
			if err == nil {
				p.Close()
				t.Fatal("no error")
			}
			if !errors.Is(err, source.ErrInvalid) {
				t.Errorf("%v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			assertNoSecret(t, err.Error(), keyPEM, "hunter22", "proxy-pass-77")
		})
	}
}

// TestApplicationDefault checks that Application Default Credentials are
// looked up only when asked for, and that a lookup that finds none is an
// authentication error.
func TestApplicationDefault(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", t.TempDir()+"/absent.json")
	p, err := gcs.New(context.Background(), gcs.Options{Bucket: "b-1"})
	if err != nil {
		t.Fatalf("anonymous provider with a broken ADC environment: %v", err)
	}
	p.Close()
	_, err = gcs.New(context.Background(), gcs.Options{Bucket: "b-1", ApplicationDefault: true})
	if !errors.Is(err, source.ErrAuth) || !strings.Contains(err.Error(), "Application Default Credentials") {
		t.Errorf("ApplicationDefault with an absent credentials file: %v, want ErrAuth", err)
	}
}
