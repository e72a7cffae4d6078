package oci_test

import (
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// testProxy is a forward proxy: it forwards plain HTTP requests and
// tunnels CONNECT ones, once they carry its basic Proxy-Authorization.
type testProxy struct {
	user, pass string
	forwarded  atomic.Int64 // plain HTTP requests forwarded
	tunnels    atomic.Int64 // CONNECT tunnels opened
	refused    atomic.Int64 // requests refused with 407
	rp         *httputil.ReverseProxy
}

func startProxy(t *testing.T, user, pass string) (*testProxy, string) {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	p := &testProxy{user: user, pass: pass}
	p.rp = &httputil.ReverseProxy{
		// The request to a forward proxy holds the absolute URL of its
		// target, which is where it goes; Proxy-Authorization is a hop
		// header and is dropped.
		Rewrite:   func(*httputil.ProxyRequest) {},
		Transport: tr,
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	u := &url.URL{Scheme: "http", Host: srv.Listener.Addr().String(), User: url.UserPassword(user, pass)}
	return p, u.String()
}

func (p *testProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(p.user+":"+p.pass))
	if r.Header.Get("Proxy-Authorization") != want {
		p.refused.Add(1)
		w.Header().Set("Proxy-Authenticate", `Basic realm="proxy"`)
		w.WriteHeader(http.StatusProxyAuthRequired)
		return
	}
	if r.Method == http.MethodConnect {
		p.tunnel(w, r)
		return
	}
	if !r.URL.IsAbs() {
		http.Error(w, "not a proxy request", http.StatusBadRequest)
		return
	}
	p.forwarded.Add(1)
	p.rp.ServeHTTP(w, r)
}

func (p *testProxy) tunnel(w http.ResponseWriter, r *http.Request) {
	upstream, err := net.Dial("tcp", r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		upstream.Close()
		http.Error(w, "no hijacking", http.StatusInternalServerError)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		upstream.Close()
		return
	}
	p.tunnels.Add(1)
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		conn.Close()
		upstream.Close()
		return
	}
	go func() {
		// Bytes the client sent past the CONNECT request, then the rest.
		_, _ = io.Copy(upstream, buf)
		upstream.(*net.TCPConn).CloseWrite()
	}()
	go func() {
		_, _ = io.Copy(conn, upstream)
		conn.Close()
		upstream.Close()
	}()
}

func TestProxyPlainHTTP(t *testing.T) {
	reg := ocitest.New(t)
	pushed := push(t, reg, "app", "v1", map[string]string{"a": "1"})
	p, proxyURL := startProxy(t, "proxyuser", "proxy-s3cret")
	reg.ResetRequests()

	client := reg.Client()
	client.Proxy = proxyURL
	repo := &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v1"}, Client: client}
	snap, err := repo.Fetch(ctx(t), t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != "v1@"+pushed.Digest {
		t.Errorf("revision %q", snap.Revision)
	}
	if _, err := client.ListTags(ctx(t), reg.URL("app")); err != nil {
		t.Fatal(err)
	}
	served := int64(len(reg.Requests()))
	if served == 0 || p.forwarded.Load() != served {
		t.Errorf("proxy forwarded %d requests, registry served %d", p.forwarded.Load(), served)
	}
	if p.refused.Load() != 0 {
		t.Errorf("proxy refused %d requests with the right credentials", p.refused.Load())
	}
}

func TestProxyConnectTLS(t *testing.T) {
	reg := ocitest.New(t, ocitest.WithTLS())
	pushed := push(t, reg, "app", "v1", map[string]string{"a": "1"})
	p, proxyURL := startProxy(t, "proxyuser", "proxy-s3cret")
	reg.ResetRequests()

	client := reg.Client()
	client.Proxy = proxyURL
	repo := &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v1"}, Client: client}
	snap, err := repo.Fetch(ctx(t), t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != "v1@"+pushed.Digest {
		t.Errorf("revision %q", snap.Revision)
	}
	if p.tunnels.Load() == 0 || len(reg.Requests()) == 0 {
		t.Errorf("proxy opened %d tunnels, registry served %d requests", p.tunnels.Load(), len(reg.Requests()))
	}
	if p.forwarded.Load() != 0 {
		t.Errorf("proxy forwarded %d plain requests to a TLS registry", p.forwarded.Load())
	}
}

func TestProxyWrongPassword(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []ocitest.Option
	}{
		{"http", nil},
		{"connect", []ocitest.Option{ocitest.WithTLS()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := ocitest.New(t, tc.opts...)
			push(t, reg, "app", "v1", map[string]string{"a": "1"})
			p, proxyURL := startProxy(t, "proxyuser", "proxy-s3cret")
			reg.ResetRequests()

			const wrong = "wr0ng-proxy-pass"
			client := reg.Client()
			u, err := url.Parse(proxyURL)
			if err != nil {
				t.Fatal(err)
			}
			u.User = url.UserPassword("proxyuser", wrong)
			client.Proxy = u.String()
			repo := &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v1"}, Client: client}
			_, err = repo.Fetch(ctx(t), t.TempDir(), "")
			if err == nil {
				t.Fatal("fetch through a proxy with a wrong password succeeded")
			}
			_, lerr := client.ListTags(ctx(t), reg.URL("app"))
			if lerr == nil {
				t.Fatal("listing through a proxy with a wrong password succeeded")
			}
			for _, e := range []error{err, lerr} {
				msg := e.Error()
				basic := base64.StdEncoding.EncodeToString([]byte("proxyuser:" + wrong))
				if strings.Contains(msg, wrong) || strings.Contains(msg, basic) || strings.Contains(msg, "proxy-s3cret") {
					t.Errorf("error leaks the proxy password: %s", msg)
				}
				if !strings.Contains(msg, reg.Host+"/app") {
					t.Errorf("error does not name the repository: %s", msg)
				}
			}
			if p.refused.Load() == 0 {
				t.Error("the proxy refused nothing")
			}
			if n := len(reg.Requests()); n != 0 {
				t.Errorf("registry served %d requests past a refusing proxy", n)
			}
		})
	}
}
