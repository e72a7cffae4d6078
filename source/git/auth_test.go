package git_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/git"
	"github.com/gitopskit/gitopskit/source/git/gittest"
	"github.com/google/go-cmp/cmp"
)

// assertSaysOnce fails when err's text does not contain phrase exactly once.
func assertSaysOnce(t *testing.T, err error, phrase string) {
	t.Helper()
	if n := strings.Count(err.Error(), phrase); n != 1 {
		t.Errorf("error %q says %q %d times, want once", err, phrase, n)
	}
}

// assertNoSecret fails when err's text contains any of the secrets.
func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains the secret %q", err, s)
		}
	}
}

func TestHTTPBasicAuth(t *testing.T) {
	srv := gittest.NewHTTPServer(t, gittest.WithBasicAuth("alice", "correct-horse"))
	repo := srv.NewRepo(t, "private")
	repo.Commit("c", map[string]string{"a": "a"})
	ref := git.Reference{Branch: "main"}

	if _, _, err := fetch(t, &git.Repository{URL: repo.URL, Ref: ref, Auth: &git.Auth{Username: "alice", Password: "correct-horse"}}, ""); err != nil {
		t.Fatalf("right password: %v", err)
	}
	tests := []struct {
		name string
		repo git.Repository
	}{
		{"wrong password", git.Repository{URL: repo.URL, Ref: ref, Auth: &git.Auth{Username: "alice", Password: "wrong-battery"}}},
		{"no credentials", git.Repository{URL: repo.URL, Ref: ref}},
		{"wrong password in URL", git.Repository{URL: strings.Replace(repo.URL, "http://", "http://alice:wrong-battery@", 1), Ref: ref}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := fetch(t, &tt.repo, "")
			if !errors.Is(err, source.ErrAuth) {
				t.Fatalf("err = %v, want ErrAuth", err)
			}
			assertNoSecret(t, err, "wrong-battery", "correct-horse")
			// The server replies "authentication required", as go-git
			// also says: the text says it once.
			assertSaysOnce(t, err, "authentication required")
			// The no-op path (ls-remote) classifies the same way.
			_, _, err = fetch(t, &tt.repo, "main@sha1:"+strings.Repeat("a", 40))
			if !errors.Is(err, source.ErrAuth) {
				t.Fatalf("ls-remote err = %v, want ErrAuth", err)
			}
			assertNoSecret(t, err, "wrong-battery")
			assertSaysOnce(t, err, "authentication required")
			_, err = tt.repo.Resolve(context.Background())
			if !errors.Is(err, source.ErrAuth) {
				t.Fatalf("Resolve err = %v, want ErrAuth", err)
			}
			assertSaysOnce(t, err, "authentication required")
		})
	}
	// Credentials in the URL work, and never show in the revision.
	snap, _, err := fetch(t, &git.Repository{URL: strings.Replace(repo.URL, "http://", "http://alice:correct-horse@", 1), Ref: ref}, "")
	if err != nil {
		t.Fatalf("credentials in URL: %v", err)
	}
	if strings.Contains(snap.Revision, "correct-horse") {
		t.Error("the revision holds the password")
	}
}

func TestHTTPBearerToken(t *testing.T) {
	srv := gittest.NewHTTPServer(t, gittest.WithBearerToken("tok-s3cr3t-value"))
	repo := srv.NewRepo(t, "private")
	repo.Commit("c", map[string]string{"a": "a"})
	ref := git.Reference{Branch: "main"}
	if _, _, err := fetch(t, &git.Repository{URL: repo.URL, Ref: ref, Auth: &git.Auth{BearerToken: "tok-s3cr3t-value"}}, ""); err != nil {
		t.Fatalf("right token: %v", err)
	}
	_, _, err := fetch(t, &git.Repository{URL: repo.URL, Ref: ref, Auth: &git.Auth{BearerToken: "tok-wrong-value"}}, "")
	if !errors.Is(err, source.ErrAuth) {
		t.Fatalf("wrong token: err = %v, want ErrAuth", err)
	}
	assertNoSecret(t, err, "tok-wrong-value", "tok-s3cr3t-value")
	assertSaysOnce(t, err, "authentication required")
}

func TestHTTPSWithCA(t *testing.T) {
	srv := gittest.NewHTTPServer(t, gittest.WithTLS())
	repo := srv.NewRepo(t, "tls")
	repo.Commit("c", map[string]string{"a": "tls"})
	ref := git.Reference{Branch: "main"}
	if _, _, err := fetch(t, &git.Repository{URL: repo.URL, Ref: ref, Auth: &git.Auth{CAFile: srv.CACert}}, ""); err != nil {
		t.Fatalf("with CA: %v", err)
	}
	_, _, err := fetch(t, &git.Repository{URL: repo.URL, Ref: ref}, "")
	if !errors.Is(err, source.ErrNetwork) {
		t.Fatalf("without CA: err = %v, want ErrNetwork", err)
	}
}

func TestHTTPSClientCertificate(t *testing.T) {
	srv := gittest.NewHTTPServer(t, gittest.WithClientCerts())
	repo := srv.NewRepo(t, "mtls")
	repo.Commit("c", map[string]string{"a": "mtls"})
	ref := git.Reference{Branch: "main"}
	auth := &git.Auth{CAFile: srv.CACert, CertFile: srv.ClientCert, KeyFile: srv.ClientKey}
	if _, _, err := fetch(t, &git.Repository{URL: repo.URL, Ref: ref, Auth: auth}, ""); err != nil {
		t.Fatalf("with client certificate: %v", err)
	}
	if _, _, err := fetch(t, &git.Repository{URL: repo.URL, Ref: ref, Auth: &git.Auth{CAFile: srv.CACert}}, ""); err == nil {
		t.Fatal("fetch without a client certificate succeeded")
	}
}

func TestHTTPProxy(t *testing.T) {
	srv := gittest.NewHTTPServer(t)
	repo := srv.NewRepo(t, "proxied")
	repo.Commit("c", map[string]string{"a": "p"})
	var seen atomic.Int64
	forward := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.Out.URL = pr.In.URL
	}}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Proxy-Authorization") == "" {
			w.Header().Set("Proxy-Authenticate", `Basic realm="proxy"`)
			http.Error(w, "proxy auth required", http.StatusProxyAuthRequired)
			return
		}
		seen.Add(1)
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	// The proxy must be used even for loopback: address the server by a
	// name the client never resolves itself.
	url := strings.Replace(repo.URL, "127.0.0.1", "gitserver.test", 1)
	forward.Rewrite = func(pr *httputil.ProxyRequest) {
		pr.Out.URL = pr.In.URL
		pr.Out.URL.Host = strings.Replace(pr.In.URL.Host, "gitserver.test", "127.0.0.1", 1)
	}
	snap, dir, err := fetch(t, &git.Repository{URL: url, Ref: git.Reference{Branch: "main"},
		Proxy: &git.Proxy{URL: proxy.URL, Username: "px", Password: "px-pass"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if readTree(t, dir)["a"] != "p" || !strings.HasPrefix(snap.Revision, "main@") {
		t.Fatalf("unexpected checkout through the proxy: %s", snap.Revision)
	}
	if seen.Load() == 0 {
		t.Fatal("the proxy saw no request")
	}
	_, _, err = fetch(t, &git.Repository{URL: url, Ref: git.Reference{Branch: "main"}, Proxy: &git.Proxy{URL: proxy.URL}}, "")
	if err == nil {
		t.Fatal("fetch through a proxy without its credentials succeeded")
	}
}

func TestSSH(t *testing.T) {
	encKey, encPub := gittest.NewClientKey(t, "key-passphrase")
	plainKey, plainPub := gittest.NewClientKey(t, "")
	strangerKey, _ := gittest.NewClientKey(t, "")
	srv := gittest.NewSSHServer(t, gittest.WithAuthorizedKeys(encPub, plainPub))
	repo := srv.NewRepo(t, "org/app")
	head := repo.Commit("c", map[string]string{"a": "ssh"})
	other := gittest.NewSSHServer(t) // a different host key
	ref := git.Reference{Branch: "main"}

	t.Run("key", func(t *testing.T) {
		snap, dir, err := fetch(t, &git.Repository{URL: repo.URL, Ref: ref, Auth: &git.Auth{Identity: plainKey, KnownHosts: srv.KnownHosts}}, "")
		if err != nil {
			t.Fatal(err)
		}
		if snap.Revision != "main@sha1:"+head || readTree(t, dir)["a"] != "ssh" {
			t.Fatalf("Revision = %s", snap.Revision)
		}
		sessions := srv.Sessions()
		_, _, err = fetch(t, &git.Repository{URL: repo.URL, Ref: ref, Auth: &git.Auth{Identity: plainKey, KnownHosts: srv.KnownHosts}}, snap.Revision)
		if !errors.Is(err, source.ErrUnchanged) {
			t.Fatalf("no-op over SSH: %v", err)
		}
		if srv.Sessions() != sessions+1 {
			t.Errorf("no-op over SSH ran %d git commands, want 1", srv.Sessions()-sessions)
		}
	})
	t.Run("encrypted key", func(t *testing.T) {
		if _, _, err := fetch(t, &git.Repository{URL: repo.URL, Ref: ref, Auth: &git.Auth{Identity: encKey, Password: "key-passphrase", KnownHosts: srv.KnownHosts}}, ""); err != nil {
			t.Fatal(err)
		}
		_, _, err := fetch(t, &git.Repository{URL: repo.URL, Ref: ref, Auth: &git.Auth{Identity: encKey, KnownHosts: srv.KnownHosts}}, "")
		if err == nil || !strings.Contains(err.Error(), "passphrase") {
			t.Fatalf("encrypted key without passphrase: %v", err)
		}
		_, _, err = fetch(t, &git.Repository{URL: repo.URL, Ref: ref, Auth: &git.Auth{Identity: encKey, Password: "nope-wrong", KnownHosts: srv.KnownHosts}}, "")
		if err == nil {
			t.Fatal("wrong passphrase accepted")
		}
		assertNoSecret(t, err, "nope-wrong")
	})
	t.Run("unauthorized key", func(t *testing.T) {
		_, _, err := fetch(t, &git.Repository{URL: repo.URL, Ref: ref, Auth: &git.Auth{Identity: strangerKey, KnownHosts: srv.KnownHosts}}, "")
		if !errors.Is(err, source.ErrAuth) {
			t.Fatalf("err = %v, want ErrAuth", err)
		}
	})
	t.Run("unknown host", func(t *testing.T) {
		before := srv.Sessions()
		_, _, err := fetch(t, &git.Repository{URL: repo.URL, Ref: ref, Auth: &git.Auth{Identity: plainKey, KnownHosts: other.KnownHosts}}, "")
		if !errors.Is(err, source.ErrAuth) || !strings.Contains(err.Error(), "known_hosts") {
			t.Fatalf("err = %v, want ErrAuth naming known_hosts", err)
		}
		if srv.Sessions() != before {
			t.Error("a git command ran on a server whose host key is unknown")
		}
	})
	t.Run("missing repository", func(t *testing.T) {
		_, _, err := fetch(t, &git.Repository{URL: srv.URL("org/nope"), Ref: ref, Auth: &git.Auth{Identity: plainKey, KnownHosts: srv.KnownHosts}}, "")
		if !errors.Is(err, source.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})
	t.Run("from secret data", func(t *testing.T) {
		auth, err := git.AuthFromSecretData(map[string][]byte{"identity": encKey, "password": []byte("key-passphrase"), "known_hosts": srv.KnownHosts}, repo.URL)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := fetch(t, &git.Repository{URL: repo.URL, Ref: ref, Auth: auth}, ""); err != nil {
			t.Fatal(err)
		}
	})
}

func TestNetworkError(t *testing.T) {
	ln := httptest.NewServer(http.NotFoundHandler())
	url := ln.URL + "/x"
	ln.Close() // nothing listens there any more
	_, _, err := fetch(t, &git.Repository{URL: url, Ref: git.Reference{Branch: "main"}}, "")
	if !errors.Is(err, source.ErrNetwork) {
		t.Fatalf("err = %v, want ErrNetwork", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = (&git.Repository{URL: url, Ref: git.Reference{Branch: "main"}}).Fetch(ctx, t.TempDir(), "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v, want context.Canceled", err)
	}
}

func TestAuthFromSecretData(t *testing.T) {
	tests := []struct {
		name    string
		data    map[string][]byte
		url     string
		want    *git.Auth
		wantErr string
	}{
		{"basic", map[string][]byte{"username": []byte("u"), "password": []byte("p")}, "https://h/r",
			&git.Auth{Username: "u", Password: "p"}, ""},
		{"bearer and CA", map[string][]byte{"bearerToken": []byte("t"), "ca.crt": []byte("CA")}, "https://h/r",
			&git.Auth{BearerToken: "t", CAFile: []byte("CA")}, ""},
		{"legacy caFile and certs", map[string][]byte{"caFile": []byte("CA"), "certFile": []byte("C"), "keyFile": []byte("K")}, "https://h/r",
			&git.Auth{CAFile: []byte("CA"), CertFile: []byte("C"), KeyFile: []byte("K")}, ""},
		{"tls pair", map[string][]byte{"tls.crt": []byte("C"), "tls.key": []byte("K")}, "https://h/r",
			&git.Auth{CertFile: []byte("C"), KeyFile: []byte("K")}, ""},
		{"ssh", map[string][]byte{"identity": []byte("I"), "known_hosts": []byte("KH")}, "ssh://git@h/r",
			&git.Auth{Identity: []byte("I"), KnownHosts: []byte("KH")}, ""},
		{"scp-like ssh", map[string][]byte{"identity": []byte("I"), "known_hosts": []byte("KH")}, "git@h:org/r",
			&git.Auth{Identity: []byte("I"), KnownHosts: []byte("KH")}, ""},
		{"ssh without known_hosts", map[string][]byte{"identity": []byte("I")}, "ssh://git@h/r", nil, `"known_hosts"`},
		{"ssh without identity", map[string][]byte{"known_hosts": []byte("KH")}, "ssh://git@h/r", nil, `"identity"`},
		{"bearer with basic", map[string][]byte{"bearerToken": []byte("t"), "username": []byte("u")}, "https://h/r", nil, "cannot be combined"},
		{"password alone", map[string][]byte{"password": []byte("secret-pw")}, "https://h/r", nil, "without"},
		{"half a pair", map[string][]byte{"tls.crt": []byte("C")}, "https://h/r", nil, "together"},
		{"bad url", map[string][]byte{}, "ftp://h/r", nil, "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := git.AuthFromSecretData(tt.data, tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if !errors.Is(err, source.ErrInvalid) {
					t.Errorf("err = %v, want ErrInvalid", err)
				}
				assertNoSecret(t, err, "secret-pw")
				assertSaysOnce(t, err, source.ErrInvalid.Error())
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	p, err := git.ProxyFromSecretData(map[string][]byte{"address": []byte("http://proxy:3128"), "username": []byte("u"), "password": []byte("p")})
	if err != nil || p.URL != "http://proxy:3128" || p.Username != "u" || p.Password != "p" {
		t.Errorf("ProxyFromSecretData = %+v, %v", p, err)
	}
	for _, addr := range []string{"ftp://x", "", "proxy"} {
		if _, err := git.ProxyFromSecretData(map[string][]byte{"address": []byte(addr)}); !errors.Is(err, source.ErrInvalid) {
			t.Errorf("proxy address %q: err = %v, want ErrInvalid", addr, err)
		}
	}
}

// TransportAuth gives go-git the authentication Fetch would use: basic
// auth, a bearer token or the URL's own credentials over HTTP(S), nothing
// for anonymous access, and refusals naming what is missing for SSH.
func TestTransportAuth(t *testing.T) {
	a, err := (&git.Auth{Username: "u", Password: "p-secret"}).TransportAuth("https://example.com/r.git")
	if err != nil || a == nil || a.Name() != "http-basic-auth" {
		t.Errorf("basic: %v, %v", a, err)
	}
	a, err = (&git.Auth{BearerToken: "tok"}).TransportAuth("https://example.com/r.git")
	if err != nil || a == nil || a.Name() != "http-token-auth" {
		t.Errorf("bearer: %v, %v", a, err)
	}
	if a, err := (&git.Auth{}).TransportAuth("https://example.com/r.git"); a != nil || err != nil {
		t.Errorf("anonymous: %v, %v", a, err)
	}
	if a, err := (*git.Auth)(nil).TransportAuth("https://user:pw@example.com/r.git"); err != nil || a == nil {
		t.Errorf("URL credentials: %v, %v", a, err)
	}
	_, err = (&git.Auth{Identity: []byte("not a key")}).TransportAuth("ssh://git@example.com/r.git")
	if !errors.Is(err, source.ErrInvalid) || !strings.Contains(err.Error(), "known_hosts") {
		t.Errorf("SSH without known_hosts: %v", err)
	}
	_, err = (&git.Auth{Identity: []byte("not a key secret-material"), KnownHosts: []byte("x")}).TransportAuth("git@example.com:r.git")
	if !errors.Is(err, source.ErrInvalid) || strings.Contains(err.Error(), "secret-material") {
		t.Errorf("SSH with a bad identity: %v", err)
	}
	if _, err := (&git.Auth{}).TransportAuth("ftp://example.com/r"); !errors.Is(err, source.ErrInvalid) {
		t.Errorf("ftp URL: %v", err)
	}
}
