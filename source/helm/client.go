package helm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/gitopskit/gitopskit/source"
)

// Client holds how to reach an HTTP(S) chart repository: credentials,
// TLS, proxy and transport. The zero value talks anonymously, verifies
// HTTPS servers against the system roots and uses no proxy. It is safe
// for concurrent use as long as it is not modified.
type Client struct {
	// Auth holds HTTP basic credentials; nil means anonymous.
	Auth *BasicAuth
	// PassCredentials sends Auth to every host a chart is downloaded
	// from. By default (false) credentials go only to the host (and port)
	// of the repository URL, as Helm and Flux's passCredentials do: an
	// index may point charts at any host.
	PassCredentials bool
	// TLS configures the server's trust and a client certificate; nil
	// means the system roots and no client certificate.
	TLS *TLS
	// Proxy is an HTTP, HTTPS or SOCKS5 proxy URL, credentials in its
	// userinfo; empty means no proxy (the environment is not read).
	Proxy string
	// Transport replaces the transport built from TLS and Proxy (tests,
	// instrumentation); when set, TLS and Proxy are ignored.
	Transport http.RoundTripper
	// UserAgent is sent with every request; empty means
	// DefaultUserAgent.
	UserAgent string
}

// BasicAuth is a user name and password for HTTP basic authentication.
type BasicAuth struct {
	Username, Password string
}

// TLS is the TLS configuration of a Client, in PEM.
type TLS struct {
	// CA is added to the system roots to verify the server.
	CA []byte
	// CertPEM and KeyPEM are a client certificate and its key, given
	// together.
	CertPEM, KeyPEM []byte
}

// DefaultUserAgent is the User-Agent of requests when Client.UserAgent
// is empty.
const DefaultUserAgent = "gitopskit-helm/1"

// redactor masks the client's credentials in text.
func (c *Client) redactor() *source.Redactor {
	r := source.NewRedactor()
	if c.Auth != nil {
		r.AddBasicAuth(c.Auth.Username, c.Auth.Password)
	}
	if c.Proxy != "" {
		r.AddURL(c.Proxy)
	}
	if c.TLS != nil && len(c.TLS.KeyPEM) > 0 {
		r.AddSecret(string(c.TLS.KeyPEM))
	}
	return r
}

// httpClient builds the HTTP client: TLS, proxy, no redirect to another
// scheme than http(s). release closes the idle connections of a transport
// httpClient built (none when Client.Transport is set), so that one
// Client per object does not leave connections idle until their timeout;
// it is never nil.
func (c *Client) httpClient() (hc *http.Client, release func(), err error) {
	release = func() {}
	rt := c.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil
		if c.Proxy != "" {
			u, err := url.Parse(c.Proxy)
			if err != nil || u.Host == "" {
				return nil, release, errorf(source.ErrInvalid, "proxy URL does not parse")
			}
			switch u.Scheme {
			case "http", "https", "socks5", "socks5h":
			default:
				return nil, release, errorf(source.ErrInvalid, "proxy URL scheme %q is not http, https or socks5", u.Scheme)
			}
			t.Proxy = http.ProxyURL(u)
		}
		cfg, err := c.tlsConfig()
		if err != nil {
			return nil, release, err
		}
		t.TLSClientConfig = cfg
		rt, release = t, t.CloseIdleConnections
	}
	return &http.Client{
		Transport: rt,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return fmt.Errorf("stopped after 10 redirects")
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to scheme %q refused", req.URL.Scheme)
			}
			// A redirect to another host loses the credentials unless
			// they may be passed everywhere.
			if !c.PassCredentials && req.URL.Host != via[0].URL.Host {
				req.Header.Del("Authorization")
			}
			return nil
		},
	}, release, nil
}

func (c *Client) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLS == nil {
		return cfg, nil
	}
	if len(c.TLS.CA) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(c.TLS.CA) {
			return nil, errorf(source.ErrInvalid, "TLS CA holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	if (len(c.TLS.CertPEM) > 0) != (len(c.TLS.KeyPEM) > 0) {
		return nil, errorf(source.ErrInvalid, "TLS client certificate and key must be given together")
	}
	if len(c.TLS.CertPEM) > 0 {
		cert, err := tls.X509KeyPair(c.TLS.CertPEM, c.TLS.KeyPEM)
		if err != nil {
			return nil, errorf(source.ErrInvalid, "TLS client certificate and key do not load")
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// get downloads rawURL into w, at most max bytes (max < 0: no cap).
// Credentials are sent when the URL's host is the one of repoURL, or
// always with PassCredentials. It returns the number of bytes written.
func (c *Client) get(ctx context.Context, hc *http.Client, rawURL, repoURL string, max int64, w io.Writer) (int64, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return 0, errorf(source.ErrInvalid, "URL %s is not an http(s) URL", source.RedactURL(rawURL))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, errorf(source.ErrInvalid, "URL %s: %v", source.RedactURL(rawURL), err)
	}
	ua := c.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	req.Header.Set("User-Agent", ua)
	if c.Auth != nil && (c.Auth.Username != "" || c.Auth.Password != "") {
		base, _ := url.Parse(repoURL)
		if c.PassCredentials || (base != nil && strings.EqualFold(base.Host, u.Host)) {
			req.SetBasicAuth(c.Auth.Username, c.Auth.Password)
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, errorf(source.ErrNetwork, "GET %s: %v", source.RedactURL(rawURL), unwrapURLError(err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return 0, errorf(source.ErrAuth, "GET %s: %s", source.RedactURL(rawURL), resp.Status)
	case resp.StatusCode == http.StatusNotFound:
		return 0, errorf(source.ErrNotFound, "GET %s: %s", source.RedactURL(rawURL), resp.Status)
	case resp.StatusCode/100 != 2:
		return 0, errorf(source.ErrNetwork, "GET %s: %s", source.RedactURL(rawURL), resp.Status)
	}
	if max >= 0 && resp.ContentLength > max {
		return 0, fmt.Errorf("GET %s: %d bytes is larger than the cap of %d: %w", source.RedactURL(rawURL), resp.ContentLength, max, ErrTooLarge)
	}
	var r io.Reader = resp.Body
	if max >= 0 {
		r = io.LimitReader(resp.Body, max+1)
	}
	n, err := io.Copy(w, r)
	if err != nil {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		return n, errorf(source.ErrNetwork, "GET %s: %v", source.RedactURL(rawURL), unwrapURLError(err))
	}
	if max >= 0 && n > max {
		return n, fmt.Errorf("GET %s: more than the cap of %d bytes: %w", source.RedactURL(rawURL), max, ErrTooLarge)
	}
	return n, nil
}

// unwrapURLError drops the *url.Error wrapper, whose text repeats the URL
// with its credentials.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// readFileCapped reads a local file of at most max bytes.
func readFileCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("file is larger than the cap of %d bytes: %w", max, ErrTooLarge)
	}
	return data, nil
}
