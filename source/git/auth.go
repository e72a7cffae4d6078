package git

import (
	"bytes"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/gitopskit/gitopskit/source"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	skknownhosts "github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// Auth holds credentials for a Git server. The zero value means anonymous
// HTTP(S); SSH always needs Identity and KnownHosts.
type Auth struct {
	// Username and Password are sent with HTTP basic auth. For SSH, Username
	// overrides the URL's user (default "git") and Password is the
	// passphrase of an encrypted Identity.
	Username, Password string
	// BearerToken is sent as "Authorization: Bearer <token>" over HTTP(S).
	BearerToken string
	// CAFile is a PEM bundle of certificate authorities to trust for HTTPS,
	// in addition to the system roots.
	CAFile []byte
	// CertFile and KeyFile are a PEM client certificate and key for HTTPS.
	CertFile, KeyFile []byte
	// Identity is a PEM SSH private key (OpenSSH, PKCS#1 or PKCS#8),
	// optionally encrypted with Password.
	Identity []byte
	// KnownHosts holds known_hosts lines; a server whose host key is not
	// listed is refused. Required for SSH.
	KnownHosts []byte
}

// Proxy is an HTTP(S) or SOCKS5 proxy for Git traffic.
type Proxy struct {
	// URL is the proxy address, for example "http://proxy:3128" or
	// "socks5://proxy:1080".
	URL string
	// Username and Password authenticate to the proxy, if set.
	Username, Password string
}

// AuthFromSecretData maps the data of a Flux Git credentials Secret to
// Auth: keys "username", "password", "bearerToken", "identity",
// "known_hosts", "ca.crt" (or the legacy "caFile"), "tls.crt" and
// "tls.key" (or the legacy "certFile" and "keyFile"). repoURL decides which
// keys matter: SSH URLs need "identity" and "known_hosts"; HTTP(S) URLs use
// the rest. Bad combinations are reported naming the keys, never values.
func AuthFromSecretData(data map[string][]byte, repoURL string) (*Auth, error) {
	get := func(keys ...string) []byte {
		for _, k := range keys {
			if v, ok := data[k]; ok && len(v) > 0 {
				return v
			}
		}
		return nil
	}
	a := &Auth{
		Username:    string(get("username")),
		Password:    string(get("password")),
		BearerToken: string(get("bearerToken")),
		CAFile:      get("ca.crt", "caFile"),
		CertFile:    get("tls.crt", "certFile"),
		KeyFile:     get("tls.key", "keyFile"),
		Identity:    get("identity"),
		KnownHosts:  get("known_hosts"),
	}
	ep, err := parseEndpoint(repoURL)
	if err != nil {
		return nil, invalidError("credentials", nil, err)
	}
	if ep.Protocol == "ssh" {
		if a.Identity == nil {
			return nil, credentialsError(`SSH URL needs the "identity" key`)
		}
		if a.KnownHosts == nil {
			return nil, credentialsError(`SSH URL needs the "known_hosts" key`)
		}
		return a, nil
	}
	if a.BearerToken != "" && (a.Username != "" || a.Password != "") {
		return nil, credentialsError(`"bearerToken" cannot be combined with "username"/"password"`)
	}
	if a.Password != "" && a.Username == "" {
		return nil, credentialsError(`"password" given without "username"`)
	}
	if (a.CertFile == nil) != (a.KeyFile == nil) {
		return nil, credentialsError(`"tls.crt" and "tls.key" must be given together`)
	}
	return a, nil
}

// credentialsError is AuthFromSecretData's configuration error.
func credentialsError(msg string) error {
	return &Error{Origin: origin, Op: "credentials", Kind: source.ErrInvalid, Detail: msg}
}

// proxyError is ProxyFromSecretData's configuration error.
func proxyError(msg string) error {
	return &Error{Origin: origin, Op: "proxy secret", Kind: source.ErrInvalid, Detail: msg}
}

// ProxyFromSecretData maps the data of a Flux proxy Secret (keys
// "address", "username", "password") to a Proxy. Bad data is reported as
// an *Error of kind source.ErrInvalid naming the keys, never values.
func ProxyFromSecretData(data map[string][]byte) (*Proxy, error) {
	addr := string(data["address"])
	if addr == "" {
		return nil, proxyError(`the "address" key is required`)
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		return nil, proxyError(`"address" is not a URL with a host`)
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, proxyError(fmt.Sprintf("scheme %q is not one of http, https, socks5", u.Scheme))
	}
	return &Proxy{URL: addr, Username: string(data["username"]), Password: string(data["password"])}, nil
}

// newRedactor returns the Redactor for a connection to rawURL (parsed as
// ep): it masks every credential the connection may send, in each encoding
// (the password and the base64 "user:password" of basic auth, the bearer
// token, the SSH passphrase, the credentials in the URL and the proxy's).
func newRedactor(rawURL string, ep endpoint, a *Auth, p *Proxy) *source.Redactor {
	red := source.NewRedactor()
	red.AddURL(rawURL)
	if ep.Password != "" {
		red.AddBasicAuth(ep.User, ep.Password)
	} else if ep.User != "" && ep.Protocol != "ssh" {
		// A user alone in an HTTP(S) URL is a token by convention.
		red.AddSecret(ep.User)
		red.AddBasicAuth(ep.User, "")
	}
	if a != nil {
		red.AddBasicAuth(a.Username, a.Password)
		red.AddSecret(a.BearerToken)
	}
	if p != nil {
		red.AddURL(p.URL)
		red.AddBasicAuth(p.Username, p.Password)
	}
	return red
}

// endpoint is a parsed repository address.
type endpoint struct {
	Protocol string // "http", "https" or "ssh"
	Host     string // host[:port]
	User     string
	Password string
	// Clean is the URL without credentials, as handed to go-git.
	Clean string
}

// parseEndpoint accepts http(s)://, ssh:// and SCP-like user@host:path
// addresses and separates any credentials from them.
func parseEndpoint(raw string) (endpoint, error) {
	if raw == "" {
		return endpoint{}, invalidf("repository URL is empty")
	}
	if !strings.Contains(raw, "://") {
		// SCP-like: [user@]host:path
		at := strings.Index(raw, "@")
		colon := strings.Index(raw, ":")
		if colon <= 0 || (at >= 0 && at > colon) {
			return endpoint{}, invalidf("repository URL %q: want http(s)://, ssh:// or user@host:path", source.RedactURL(raw))
		}
		user, host := "", raw[:colon]
		if at >= 0 {
			user, host = raw[:at], raw[at+1:colon]
		}
		return endpoint{Protocol: "ssh", Host: host, User: user, Clean: raw}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, invalidf("repository URL %q does not parse", source.RedactURL(raw))
	}
	ep := endpoint{Protocol: u.Scheme, Host: u.Host}
	switch u.Scheme {
	case "http", "https", "ssh":
	default:
		return endpoint{}, invalidf("repository URL scheme %q is not supported (want http, https or ssh)", u.Scheme)
	}
	if u.Host == "" {
		return endpoint{}, invalidf("repository URL %q has no host", source.RedactURL(raw))
	}
	if u.User != nil {
		ep.User = u.User.Username()
		ep.Password, _ = u.User.Password()
		if u.Scheme != "ssh" {
			u.User = nil
		} else {
			u.User = url.User(ep.User)
		}
	}
	ep.Clean = u.String()
	return ep, nil
}

// TransportAuth returns the go-git authentication for the repository at
// rawURL (http(s)://, ssh:// or user@host:path), built exactly as Fetch
// builds it: HTTP basic auth or a bearer token (or the URL's own
// credentials), or an SSH identity whose server must be in KnownHosts
// (bounded key-derivation rounds, parser panics turned into errors). It
// lets code that pushes with go-git, such as imagepolicy/gitpush, reuse
// the same Secret handling. A nil result means anonymous access. Errors
// wrap source.ErrInvalid and never contain the credentials.
func (a *Auth) TransportAuth(rawURL string) (transport.AuthMethod, error) {
	ep, err := parseEndpoint(rawURL)
	if err != nil {
		return nil, err
	}
	return a.transportAuth(ep)
}

// transportAuth builds go-git's auth method for the endpoint.
func (a *Auth) transportAuth(ep endpoint) (_ transport.AuthMethod, err error) {
	// The key and known_hosts parsers are third-party code fed with
	// secret data: a panic there is an error, without the data.
	defer func() {
		if r := recover(); r != nil {
			err = invalidf("SSH identity or known_hosts cannot be parsed")
		}
	}()
	var zero Auth
	if a == nil {
		a = &zero
	}
	if ep.Protocol == "ssh" {
		if len(a.Identity) == 0 {
			return nil, invalidf("SSH needs an identity (private key)")
		}
		if len(a.KnownHosts) == 0 {
			return nil, invalidf("SSH needs known_hosts: an unknown server is never trusted")
		}
		user := ep.User
		if a.Username != "" {
			user = a.Username
		}
		if user == "" {
			user = "git"
		}
		if err := checkKDFRounds(a.Identity); err != nil {
			return nil, err
		}
		var signer ssh.Signer
		var err error
		if a.Password != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase(a.Identity, []byte(a.Password))
		} else {
			signer, err = ssh.ParsePrivateKey(a.Identity)
		}
		if err != nil {
			var missing *ssh.PassphraseMissingError
			if errors.As(err, &missing) {
				return nil, invalidf("SSH identity is encrypted and no passphrase (password) was given")
			}
			return nil, invalidf("SSH identity cannot be parsed or decrypted")
		}
		cb, algos, err := knownHostsCallback(a.KnownHosts, ep.Host)
		if err != nil {
			return nil, err
		}
		return &gitssh.PublicKeys{User: user, Signer: signer, HostKeyCallbackHelper: gitssh.HostKeyCallbackHelper{
			HostKeyCallback: cb, HostKeyAlgorithms: algos,
		}}, nil
	}
	switch {
	case a.BearerToken != "":
		return &githttp.TokenAuth{Token: a.BearerToken}, nil
	case a.Username != "":
		return &githttp.BasicAuth{Username: a.Username, Password: a.Password}, nil
	case ep.User != "":
		return &githttp.BasicAuth{Username: ep.User, Password: ep.Password}, nil
	}
	return nil, nil
}

// maxKDFRounds caps the bcrypt rounds of an encrypted OpenSSH identity:
// the count comes from the key, and a huge one would hold the caller for
// hours deriving the key. ssh-keygen uses 16 unless told otherwise.
const maxKDFRounds = 1024

// checkKDFRounds refuses an OpenSSH identity whose key derivation asks for
// more than maxKDFRounds rounds. Other key formats pass.
func checkKDFRounds(identity []byte) error {
	block, _ := pem.Decode(identity)
	if block == nil || block.Type != "OPENSSH PRIVATE KEY" {
		return nil
	}
	rest, ok := bytes.CutPrefix(block.Bytes, []byte("openssh-key-v1\x00"))
	if !ok {
		return nil
	}
	next := func() []byte {
		if len(rest) < 4 {
			return nil
		}
		n := binary.BigEndian.Uint32(rest)
		if uint64(n) > uint64(len(rest)-4) {
			rest = nil
			return nil
		}
		v := rest[4 : 4+n]
		rest = rest[4+n:]
		return v
	}
	_ = next() // cipher name
	kdf := next()
	opts := next()
	if string(kdf) != "bcrypt" {
		return nil
	}
	// kdf options: string salt, uint32 rounds.
	rest = opts
	_ = next()
	if len(rest) >= 4 && binary.BigEndian.Uint32(rest) > maxKDFRounds {
		return invalidf("SSH identity asks for %d key derivation rounds, more than the %d allowed", binary.BigEndian.Uint32(rest), maxKDFRounds)
	}
	return nil
}

// knownHostsCallback builds a strict host key callback from known_hosts
// content, and the host key algorithms known for host.
func knownHostsCallback(content []byte, host string) (ssh.HostKeyCallback, []string, error) {
	f, err := os.CreateTemp("", "known_hosts")
	if err != nil {
		return nil, nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(content); err != nil {
		f.Close()
		return nil, nil, err
	}
	if err := f.Close(); err != nil {
		return nil, nil, err
	}
	db, err := skknownhosts.NewDB(f.Name())
	if err != nil {
		return nil, nil, invalidf("known_hosts does not parse")
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "22")
	}
	return db.HostKeyCallback(), db.HostKeyAlgorithms(host), nil
}
