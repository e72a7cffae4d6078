package oci

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/gitopskit/gitopskit/source"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// DefaultMaxManifestSize caps the size of a manifest (or index) read from a
// registry when Client.MaxManifestSize is zero.
const DefaultMaxManifestSize int64 = 4 << 20

// DefaultMaxTags caps the number of tags read from a repository's tag list
// (by ListTags and a semver reference) when Client.MaxTags is zero.
const DefaultMaxTags = 100_000

// DefaultMaxTagListSize caps the bytes of the tag-list responses read for
// one listing when Client.MaxTagListSize is zero. It holds DefaultMaxTags
// tags of the longest length a tag may have (128 characters).
const DefaultMaxTagListSize int64 = 16 << 20

// tagListPageSize is the page size asked of the registry when listing tags.
const tagListPageSize = 1000

// UserAgent is sent with every request unless Client.UserAgent is set.
const UserAgent = "gitopskit"

// Client holds how to reach a registry: credentials, TLS and transport.
// The zero value talks anonymously over HTTPS, verifying the server
// against the system roots, with no proxy. It is safe for concurrent use
// as long as it is not modified.
type Client struct {
	// Auth holds static credentials; nil means anonymous (or Keychain).
	Auth *Auth
	// Keychain resolves credentials per registry (a dockerconfigjson
	// Secret's content through KeychainFromDockerConfig, or a cloud
	// provider's login). It may not be set together with Auth.
	Keychain Keychain
	// TLS configures the server's trust and a client certificate; nil
	// means the system roots and no client certificate.
	TLS *TLS
	// Insecure allows plain HTTP to the registry. Without it, plain HTTP is
	// refused, including for loopback and private addresses, which
	// go-containerregistry would otherwise let fall back to it.
	Insecure bool
	// Proxy is an HTTP or HTTPS proxy URL (http://, https://; HTTPS
	// requests go through it with CONNECT) or a SOCKS5 one (socks5://,
	// socks5h://), possibly with userinfo, sent as basic
	// Proxy-Authorization to an HTTP(S) proxy and as the SOCKS5
	// user name and password; empty means a direct connection (the
	// environment's proxy variables are not read).
	Proxy string
	// Transport replaces the HTTP transport; TLS and Proxy are then not
	// applied (the refusal of plain HTTP and the size caps still are).
	Transport http.RoundTripper
	// MaxManifestSize caps manifests and indexes, in bytes; 0 means
	// DefaultMaxManifestSize.
	MaxManifestSize int64
	// MaxTags caps the number of tags a listing (ListTags, a semver
	// reference) reads; 0 means DefaultMaxTags.
	MaxTags int
	// MaxTagListSize caps the bytes of the tag-list responses one listing
	// reads, over all its pages; 0 means DefaultMaxTagListSize.
	MaxTagListSize int64
	// UserAgent is sent with every request; empty means UserAgent.
	UserAgent string
}

// Auth holds static registry credentials.
type Auth struct {
	// Username and Password are basic credentials (or a user name and a
	// token that the registry exchanges for a bearer token).
	Username, Password string
	// IdentityToken is an OAuth2 refresh token exchanged for an access
	// token, as "identitytoken" in a Docker config.
	IdentityToken string
	// RegistryToken is a bearer token sent to the registry as it is, as
	// "registrytoken" in a Docker config.
	RegistryToken string
}

// TLS configures the TLS connection to a registry.
type TLS struct {
	// CA holds PEM certificates to trust in addition to the system roots.
	CA []byte
	// CertPEM and KeyPEM are a client certificate and its key; both or
	// neither.
	CertPEM, KeyPEM []byte
}

// Keychain resolves the credentials for a registry. It has the shape of
// go-containerregistry's authn.Keychain, so any of its keychains (including
// cloud providers' ones) can be used.
type Keychain interface {
	Resolve(authn.Resource) (authn.Authenticator, error)
}

// redactor returns a Redactor for every credential c may send.
func (c *Client) redactor() *source.Redactor {
	red := source.NewRedactor()
	if c.Auth != nil {
		red.AddBasicAuth(c.Auth.Username, c.Auth.Password)
		red.AddSecret(c.Auth.IdentityToken, c.Auth.RegistryToken)
	}
	if c.TLS != nil && len(c.TLS.KeyPEM) > 0 {
		red.AddSecret(string(c.TLS.KeyPEM))
	}
	if c.Proxy != "" {
		if u, err := url.Parse(c.Proxy); err == nil && u.User != nil {
			p, _ := u.User.Password()
			red.AddBasicAuth(u.User.Username(), p)
		}
	}
	if kc, ok := c.Keychain.(*dockerKeychain); ok {
		for _, a := range kc.auths {
			red.AddBasicAuth(a.Username, a.Password)
			red.AddSecret(a.IdentityToken, a.RegistryToken)
		}
	}
	return red
}

// remoteOptions builds go-containerregistry's options for one operation.
//
// release closes the idle connections of a transport remoteOptions built
// (none when Client.Transport is set): a reconciler makes one Client per
// object, and connections left idle until their timeout would pile up
// with the objects (each with its buffers and goroutines). release is
// never nil.
func (c *Client) remoteOptions(ctx context.Context) (opts []remote.Option, release func(), err error) {
	release = func() {}
	rt, err := c.transport()
	if err != nil {
		return nil, release, err
	}
	if g, ok := rt.(*guardTransport); ok && c.Transport == nil {
		if t, ok := g.base.(*http.Transport); ok {
			release = t.CloseIdleConnections
		}
	}
	opts = []remote.Option{remote.WithContext(ctx), remote.WithTransport(rt)}
	ua := c.UserAgent
	if ua == "" {
		ua = UserAgent
	}
	opts = append(opts, remote.WithUserAgent(ua))
	switch {
	case c.Auth != nil && c.Keychain != nil:
		return nil, release, invalidf("set either Auth or Keychain, not both")
	case c.Auth != nil:
		opts = append(opts, remote.WithAuth(authn.FromConfig(authn.AuthConfig{
			Username: c.Auth.Username, Password: c.Auth.Password,
			IdentityToken: c.Auth.IdentityToken, RegistryToken: c.Auth.RegistryToken,
		})))
	case c.Keychain != nil:
		opts = append(opts, remote.WithAuthFromKeychain(c.Keychain))
	default:
		opts = append(opts, remote.WithAuth(authn.Anonymous))
	}
	return opts, release, nil
}

func (c *Client) maxManifest() int64 {
	if c.MaxManifestSize > 0 {
		return c.MaxManifestSize
	}
	return DefaultMaxManifestSize
}

func (c *Client) maxTags() int {
	if c.MaxTags > 0 {
		return c.MaxTags
	}
	return DefaultMaxTags
}

func (c *Client) maxTagList() int64 {
	if c.MaxTagListSize > 0 {
		return c.MaxTagListSize
	}
	return DefaultMaxTagListSize
}

// listTags reads the tags of repo page by page, failing with ErrTooLarge
// past the Client's tag count cap (the byte cap is the transport's).
func (c *Client) listTags(ctx context.Context, repo name.Repository, opts []remote.Option) ([]string, error) {
	limit := c.maxTags()
	pageSize := tagListPageSize
	if limit < pageSize {
		pageSize = limit + 1
	}
	p, err := remote.NewPuller(append(opts[:len(opts):len(opts)], remote.WithPageSize(pageSize))...)
	if err != nil {
		return nil, err
	}
	l, err := p.Lister(ctx, repo)
	if err != nil {
		return nil, err
	}
	var tags []string
	for l.HasNext() {
		page, err := l.Next(ctx)
		if err != nil {
			return nil, err
		}
		tags = append(tags, page.Tags...)
		if len(tags) > limit {
			return nil, fmt.Errorf("repository %s has more than %d tags, the cap: %w", repo.Name(), limit, ErrTooLarge)
		}
	}
	return tags, nil
}

// transport builds the HTTP transport: TLS, proxy, the refusal of plain
// HTTP and the manifest and tag-list size caps.
func (c *Client) transport() (http.RoundTripper, error) {
	base := c.Transport
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil
		if c.Proxy != "" {
			u, err := url.Parse(c.Proxy)
			if err != nil || u.Host == "" {
				return nil, invalidf("proxy URL does not parse")
			}
			switch u.Scheme {
			case "http", "https", "socks5", "socks5h":
			default:
				return nil, invalidf("proxy URL scheme %q is not http, https or socks5", u.Scheme)
			}
			t.Proxy = http.ProxyURL(u)
		}
		cfg, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		t.TLSClientConfig = cfg
		base = t
	}
	g := &guardTransport{base: base, insecure: c.Insecure, maxManifest: c.maxManifest()}
	g.tagListLeft.Store(c.maxTagList())
	return g, nil
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
			return nil, invalidf("TLS CA holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	if (len(c.TLS.CertPEM) > 0) != (len(c.TLS.KeyPEM) > 0) {
		return nil, invalidf("TLS client certificate and key must be given together")
	}
	if len(c.TLS.CertPEM) > 0 {
		cert, err := tls.X509KeyPair(c.TLS.CertPEM, c.TLS.KeyPEM)
		if err != nil {
			return nil, invalidf("TLS client certificate and key do not load")
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// errPlainHTTP is returned for a plain HTTP request without Insecure.
var errPlainHTTP = errors.New("plain HTTP refused (set Insecure to allow it)")

// guardTransport refuses plain HTTP unless allowed, caps manifest bodies
// and caps the tag-list bodies of one operation, over all their pages.
type guardTransport struct {
	base        http.RoundTripper
	insecure    bool
	maxManifest int64
	tagListLeft atomic.Int64
}

func (g *guardTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.insecure {
		return nil, errPlainHTTP
	}
	resp, err := g.base.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet {
		return resp, err
	}
	switch {
	case strings.Contains(req.URL.Path, "/manifests/") || strings.Contains(req.URL.Path, "/referrers/"):
		if resp.ContentLength > g.maxManifest {
			resp.Body.Close()
			return nil, fmt.Errorf("manifest of %d bytes is larger than the cap of %d: %w", resp.ContentLength, g.maxManifest, ErrTooLarge)
		}
		left := &atomic.Int64{}
		left.Store(g.maxManifest)
		resp.Body = &cappedBody{rc: resp.Body, left: left, what: "manifest"}
	case strings.HasSuffix(req.URL.Path, "/tags/list"):
		if left := g.tagListLeft.Load(); resp.ContentLength > left {
			resp.Body.Close()
			return nil, fmt.Errorf("tag list is larger than the cap of %d bytes: %w", left, ErrTooLarge)
		}
		resp.Body = &cappedBody{rc: resp.Body, left: &g.tagListLeft, what: "tag list"}
	}
	return resp, nil
}

// cappedBody fails a read past its cap: it draws from left, which may be
// shared by several bodies.
type cappedBody struct {
	rc   io.ReadCloser
	left *atomic.Int64
	what string
}

func (c *cappedBody) Read(p []byte) (int, error) {
	left := c.left.Load()
	if left < 0 {
		return 0, fmt.Errorf("%s is larger than the cap: %w", c.what, ErrTooLarge)
	}
	if int64(len(p)) > left+1 {
		p = p[:left+1]
	}
	n, err := c.rc.Read(p)
	if c.left.Add(-int64(n)) < 0 {
		return 0, fmt.Errorf("%s is larger than the cap: %w", c.what, ErrTooLarge)
	}
	return n, err
}

func (c *cappedBody) Close() error { return c.rc.Close() }

// KeychainFromDockerConfig parses the content of a Docker config file, as
// held by a kubernetes.io/dockerconfigjson Secret under ".dockerconfigjson"
// ({"auths": {"<registry>": {"auth": "<base64 user:password>", ...}}}),
// into a Keychain. Registries without an entry resolve to anonymous access.
// Entry keys may carry a scheme and a path ("https://index.docker.io/v1/").
// Its errors wrap source.ErrInvalid and never quote the content.
func KeychainFromDockerConfig(data []byte) (Keychain, error) {
	var cfg struct {
		Auths map[string]struct {
			Auth          string `json:"auth"`
			Username      string `json:"username"`
			Password      string `json:"password"`
			IdentityToken string `json:"identitytoken"`
			RegistryToken string `json:"registrytoken"`
		} `json:"auths"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, invalidf("docker config is not valid JSON")
	}
	kc := &dockerKeychain{auths: map[string]Auth{}}
	for key, e := range cfg.Auths {
		a := Auth{Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken, RegistryToken: e.RegistryToken}
		if e.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(e.Auth)
			if err != nil {
				return nil, invalidf("docker config entry for %q: auth is not base64", registryKey(key))
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok {
				return nil, invalidf("docker config entry for %q: auth is not user:password", registryKey(key))
			}
			a.Username, a.Password = user, pass
		}
		kc.auths[registryKey(key)] = a
	}
	return kc, nil
}

// registryKey normalises a Docker config key to a registry host.
func registryKey(key string) string {
	k := key
	if i := strings.Index(k, "://"); i >= 0 {
		k = k[i+3:]
	}
	k, _, _ = strings.Cut(k, "/")
	k = strings.ToLower(k)
	if k == "docker.io" || k == "registry-1.docker.io" {
		k = name.DefaultRegistry
	}
	return k
}

// dockerKeychain is the Keychain of a Docker config.
type dockerKeychain struct{ auths map[string]Auth }

func (k *dockerKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	a, ok := k.auths[registryKey(r.RegistryStr())]
	if !ok {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{
		Username: a.Username, Password: a.Password,
		IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken,
	}), nil
}
