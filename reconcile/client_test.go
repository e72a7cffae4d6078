package reconcile

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/internal/yamlguard"
)

// fakeAPIServer is a TLS server standing in for an attacker's API server:
// it records the credentials each request carries.
type fakeAPIServer struct {
	*httptest.Server
	mu          sync.Mutex
	auth        []string
	clientCerts int
}

func startFakeAPIServer(t *testing.T) *fakeAPIServer {
	t.Helper()
	s := &fakeAPIServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		if r.TLS != nil {
			s.clientCerts += len(r.TLS.PeerCertificates)
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"major":"1","minor":"37"}`)
	}))
	s.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *fakeAPIServer) seen() (auth []string, clientCerts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth...), s.clientCerts
}

// files writes the server's certificate and key, and a token, as the
// files a controller's host holds; it returns their paths and the CA PEM.
func (s *fakeAPIServer) files(t *testing.T) (token, cert, key, ca string, caPEM []byte) {
	t.Helper()
	dir := t.TempDir()
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	keyDER, err := x509.MarshalPKCS8PrivateKey(s.TLS.Certificates[0].PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	token = write("token", []byte(controllerToken))
	cert = write("tls.crt", caPEM)
	key = write("tls.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	ca = write("ca.crt", caPEM)
	return token, cert, key, ca, caPEM
}

// controllerToken stands for the controller's own service account token.
const controllerToken = "controller-service-account-token"

func kubeconfigYAML(server, cluster, user string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: %q, %s}}]
users: [{name: u, user: {%s}}]
`, server, cluster, user)
}

// send does what a controller does with the configuration: a request.
func send(t *testing.T, cfg *rest.Config) {
	t.Helper()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(cfg.Host + "/version")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// A kubeconfig from a Secret that names files on the controller's host is
// refused before anything is read or sent, whichever field names the file.
func TestKubeConfigFileReferencesRefused(t *testing.T) {
	srv := startFakeAPIServer(t)
	token, cert, key, ca, caPEM := srv.files(t)
	caData := "certificate-authority-data: " + base64.StdEncoding.EncodeToString(caPEM)
	tests := []struct {
		name, cluster, user, field string
	}{
		{"tokenFile", caData, "tokenFile: " + token, `user "u", field tokenFile`},
		{"tokenFile beside a token", caData, "token: t, tokenFile: " + token, `user "u", field tokenFile`},
		{"client-certificate", caData, "client-certificate: " + cert + ", client-key-data: eA==", `user "u", field client-certificate`},
		{"client-key", caData, "client-certificate-data: eA==, client-key: " + key, `user "u", field client-key`},
		{"certificate-authority", "certificate-authority: " + ca, "token: t", `cluster "k", field certificate-authority`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := kubeconfigYAML(srv.URL, tt.cluster, tt.user)
			cfg, err := RESTConfigFromKubeConfig([]byte(data), KubeConfigOptions{})
			if err == nil {
				send(t, cfg)
				t.Fatalf("accepted a kubeconfig with %s", tt.name)
			}
			if !errors.Is(err, ErrFileReferenceNotAllowed) {
				t.Errorf("error %v does not wrap ErrFileReferenceNotAllowed", err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
			if strings.Contains(err.Error(), controllerToken) || strings.Contains(err.Error(), filepath.Dir(token)) {
				t.Errorf("error %q leaks a file's content or path", err)
			}
		})
	}
	// A file reference in a user or cluster the context does not use is
	// refused too: no file reference passes unseen.
	unused := kubeconfigYAML(srv.URL, caData, "token: t") + "  - {name: other, user: {tokenFile: " + token + "}}\n"
	unused = strings.Replace(unused, "users: [{name: u, user: {token: t}}]\n", "users:\n  - {name: u, user: {token: t}}\n", 1)
	if _, err := RESTConfigFromKubeConfig([]byte(unused), KubeConfigOptions{}); !errors.Is(err, ErrFileReferenceNotAllowed) ||
		!strings.Contains(err.Error(), `user "other"`) {
		t.Errorf("unused user with tokenFile: %v", err)
	}
	if auth, certs := srv.seen(); len(auth) != 0 || certs != 0 {
		t.Errorf("the server received %d requests (%d client certificates)", len(auth), certs)
	}
}

// With AllowFileReferences the files are read: the opt-in is for
// kubeconfigs of trusted origin only, as the token reaching the server shows.
func TestKubeConfigFileReferencesAllowed(t *testing.T) {
	srv := startFakeAPIServer(t)
	token, cert, key, ca, _ := srv.files(t)
	data := kubeconfigYAML(srv.URL, "certificate-authority: "+ca,
		"tokenFile: "+token+", client-certificate: "+cert+", client-key: "+key)
	cfg, err := RESTConfigFromKubeConfig([]byte(data), KubeConfigOptions{AllowFileReferences: true})
	if err != nil {
		t.Fatal(err)
	}
	send(t, cfg)
	auth, certs := srv.seen()
	if len(auth) != 1 || auth[0] != "Bearer "+controllerToken || certs != 1 {
		t.Errorf("server saw Authorization %q and %d client certificates, want the token file's and one", auth, certs)
	}
}

// The same kubeconfig with its data embedded works with the zero options.
func TestKubeConfigEmbeddedData(t *testing.T) {
	srv := startFakeAPIServer(t)
	_, _, _, _, caPEM := srv.files(t)
	data := kubeconfigYAML(srv.URL, "certificate-authority-data: "+base64.StdEncoding.EncodeToString(caPEM), "token: embedded")
	cfg, err := RESTConfigFromKubeConfig([]byte(data), KubeConfigOptions{})
	if err != nil {
		t.Fatal(err)
	}
	send(t, cfg)
	if auth, _ := srv.seen(); len(auth) != 1 || auth[0] != "Bearer embedded" {
		t.Errorf("server saw %q", auth)
	}
}

// A server URL carrying user information becomes basic credentials: the
// URL the clients print in errors holds neither the user nor the password.
func TestKubeConfigServerUserinfo(t *testing.T) {
	srv := startFakeAPIServer(t)
	_, _, _, _, caPEM := srv.files(t)
	withUser := strings.Replace(srv.URL, "https://", "https://alice:s3cret@", 1)
	data := kubeconfigYAML(withUser, "certificate-authority-data: "+base64.StdEncoding.EncodeToString(caPEM), "username: \"\"")
	cfg, err := RESTConfigFromKubeConfig([]byte(data), KubeConfigOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cfg.Host, "alice") || strings.Contains(cfg.Host, "s3cret") || cfg.Username != "alice" || cfg.Password != "s3cret" {
		t.Fatalf("host %q user %q", cfg.Host, cfg.Username)
	}
	send(t, cfg)
	if auth, _ := srv.seen(); len(auth) != 1 || auth[0] != "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:s3cret")) {
		t.Errorf("server saw %q", auth)
	}
	// With a token the user information is dropped, not used.
	cfg, err = RESTConfigFromKubeConfig([]byte(kubeconfigYAML("https://bob:pw@127.0.0.1:1", "tls-server-name: x", "token: t")), KubeConfigOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://127.0.0.1:1" || cfg.Username != "" || cfg.Password != "" {
		t.Errorf("host %q user %q", cfg.Host, cfg.Username)
	}
}

func TestCheckRESTConfig(t *testing.T) {
	for name, cfg := range map[string]*rest.Config{
		"tokenFile":             {BearerTokenFile: "/t"},
		"client-certificate":    {TLSClientConfig: rest.TLSClientConfig{CertFile: "/c"}},
		"client-key":            {TLSClientConfig: rest.TLSClientConfig{KeyFile: "/k"}},
		"certificate-authority": {TLSClientConfig: rest.TLSClientConfig{CAFile: "/ca"}},
	} {
		if err := checkRESTConfig(cfg, KubeConfigOptions{}); !errors.Is(err, ErrFileReferenceNotAllowed) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
		if err := checkRESTConfig(cfg, KubeConfigOptions{AllowFileReferences: true}); err != nil {
			t.Errorf("%s allowed: %v", name, err)
		}
	}
	if err := checkRESTConfig(&rest.Config{ExecProvider: nil, AuthProvider: nil, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}, KubeConfigOptions{}); !errors.Is(err, ErrInsecureNotAllowed) {
		t.Errorf("insecure: %v", err)
	}
}

func TestKubeConfigAliasBombRefused(t *testing.T) {
	doc := "apiVersion: v1\nkind: Config\n" + yamlguard.AliasBomb(9, 9)
	_, err := RESTConfigFromKubeConfig([]byte(doc), KubeConfigOptions{})
	if !errors.Is(err, yamlguard.ErrAliasBomb) {
		t.Fatalf("got %v, want an alias-bomb refusal", err)
	}
}
