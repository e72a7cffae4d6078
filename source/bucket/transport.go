package bucket

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gitopskit/gitopskit/source"
)

// Transport returns the HTTP transport a provider talks to its endpoint
// through: proxies from the environment ignored, up to 64 idle connections
// per host for parallel downloads, two minutes at most for response
// headers, the PEM certificates of ca trusted beside the system's, and
// proxy (http, https or socks5, with its credentials) when it is not nil.
// NewS3 and the azureblob and gcs providers share it. Errors name the
// option at fault and never hold the proxy's credentials; a provider adds
// them to its redactor itself, for the errors of later requests.
func Transport(ca []byte, proxy *Proxy) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxIdleConnsPerHost = 64
	tr.ResponseHeaderTimeout = 2 * time.Minute
	if len(ca) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(ca) {
			return nil, errors.New("CA holds no PEM certificate")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if proxy != nil {
		u, err := url.Parse(proxy.URL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("proxy URL %q does not parse as scheme://host[:port]", source.RedactURL(proxy.URL))
		}
		switch u.Scheme {
		case "http", "https", "socks5", "socks5h":
		default:
			return nil, fmt.Errorf("proxy URL scheme %q is not http, https or socks5", u.Scheme)
		}
		if proxy.Username != "" || proxy.Password != "" {
			u.User = url.UserPassword(proxy.Username, proxy.Password)
		}
		tr.Proxy = http.ProxyURL(u)
	}
	return tr, nil
}
