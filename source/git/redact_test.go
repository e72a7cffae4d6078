package git_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/git"
)

// echoServer answers every request (as a Git server or as an HTTP proxy)
// with 401 and a body that quotes the request, Authorization and
// Proxy-Authorization headers included, and the bare credentials, raw and
// decoded, as misconfigured or hostile servers do.
func echoServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dump, _ := httputil.DumpRequest(r, false)
		body := "denied; you sent:\n" + string(dump)
		// The bare credentials too, in the forms they were sent and
		// decoded, outside any header-like context.
		for _, h := range []string{"Authorization", "Proxy-Authorization"} {
			if _, cred, ok := strings.Cut(r.Header.Get(h), " "); ok {
				body += "\nbad credentials " + cred
				if dec, err := base64.StdEncoding.DecodeString(cred); err == nil {
					body += " (" + string(dec) + ")"
				}
			}
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="echo"`)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestErrorsHideEchoedCredentials fetches from a server that echoes the
// request headers in its 401 body: the error must quote the body (it is
// useful) with no credential in any encoding.
func TestErrorsHideEchoedCredentials(t *testing.T) {
	srv := echoServer(t)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	withUser := func(userinfo string) string {
		return strings.Replace(srv.URL, "http://", "http://"+userinfo+"@", 1) + "/org/repo.git"
	}
	tests := []struct {
		name    string
		repo    git.Repository
		secrets []string
	}{
		{"basic auth", git.Repository{URL: srv.URL + "/org/repo.git", Auth: &git.Auth{Username: "alice", Password: "s3cret-pass"}},
			[]string{"s3cret-pass", b64("alice:s3cret-pass")}},
		{"short password", git.Repository{URL: srv.URL + "/org/repo.git", Auth: &git.Auth{Username: "alice", Password: "pw"}},
			[]string{b64("alice:pw")}},
		{"bearer token", git.Repository{URL: srv.URL + "/org/repo.git", Auth: &git.Auth{BearerToken: "tok-abc123xyz"}},
			[]string{"tok-abc123xyz"}},
		{"credentials in the URL", git.Repository{URL: withUser("alice:url-pass-9")},
			[]string{"url-pass-9", b64("alice:url-pass-9")}},
		{"escaped credentials in the URL", git.Repository{URL: withUser("alice:p%40ss%2Fw0rd")},
			[]string{"p@ss/w0rd", "p%40ss%2Fw0rd", b64("alice:p@ss/w0rd")}},
		{"token as the URL user", git.Repository{URL: withUser("ghp_tok999")},
			[]string{"ghp_tok999", b64("ghp_tok999:")}},
		{"proxy credentials", git.Repository{URL: "http://git.internal.example/org/repo.git",
			Proxy: &git.Proxy{URL: srv.URL, Username: "proxyuser", Password: "proxy-pw-77"}},
			[]string{"proxy-pw-77", b64("proxyuser:proxy-pw-77")}},
		{"proxy credentials in its URL", git.Repository{URL: "http://git.internal.example/org/repo.git",
			Proxy: &git.Proxy{URL: strings.Replace(srv.URL, "http://", "http://proxyuser:proxy-pw-88@", 1)}},
			[]string{"proxy-pw-88", b64("proxyuser:proxy-pw-88")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, last := range []string{"", "main@sha1:" + strings.Repeat("a", 40)} {
				tt.repo.Ref = git.Reference{Branch: "main"}
				_, _, err := fetch(t, &tt.repo, last)
				if err == nil {
					t.Fatal("fetch from a server that answers 401 succeeded")
				}
				if !errors.Is(err, source.ErrAuth) {
					t.Errorf("err = %v, want ErrAuth", err)
				}
				if !strings.Contains(err.Error(), "you sent") || !strings.Contains(err.Error(), "bad credentials") {
					t.Fatalf("the error does not quote the server's body, so this test checks nothing: %v", err)
				}
				assertNoSecret(t, err, tt.secrets...)
			}
		})
	}
}

// TestConfigErrorsHideURLCredentials checks the errors raised before any
// connection, for malformed addresses holding credentials.
func TestConfigErrorsHideURLCredentials(t *testing.T) {
	for _, raw := range []string{
		"https//user:hunter22@example.com/x",
		"ftp://user:hunter22@example.com/x",
		"https://user:hunter22@exa mple.com/x",
		"http:/user:hunter22@example.com/x",
		"https://user:hunter22@[::1/x",
		"https://user:hun ter22@:99999/x",
		"user:hunter22@example.com/x",
	} {
		_, _, err := fetch(t, &git.Repository{URL: raw}, "")
		if err == nil {
			continue // some are valid enough to reach the network; others fail
		}
		assertNoSecret(t, err, "hunter22", "hun ter22")
		if _, err := git.AuthFromSecretData(map[string][]byte{}, raw); err != nil {
			assertNoSecret(t, err, "hunter22", "hun ter22")
		}
	}
	_, err := git.ProxyFromSecretData(map[string][]byte{"address": []byte("gopher://u:hunter22@proxy")})
	if err == nil {
		t.Fatal("a gopher proxy was accepted")
	}
	assertNoSecret(t, err, "hunter22")
}
