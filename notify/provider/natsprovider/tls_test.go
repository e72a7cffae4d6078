package natsprovider_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gitopskit/gitopskit/notify/provider"
	"github.com/gitopskit/gitopskit/notify/provider/natsprovider"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and a pool trusting the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "nats-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

func TestPostTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	addr := startServer(t, "", "--tls", "--tlscert", certFile, "--tlskey", keyFile, "--user", user, "--pass", password)
	sub := subscribe(t, addr, nats.UserInfo(user, password), nats.Secure(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	cfg := provider.Config{
		Type:      provider.TypeNATS,
		Address:   "tls://" + addr,
		Channel:   subject,
		Username:  user,
		Password:  password,
		TLSConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}
	s, err := natsprovider.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := testEvent()
	if err := s.Post(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, sub, e)

	// Without the CA, the server's certificate is not trusted.
	cfg.TLSConfig = nil
	cfg.Retry = provider.Retry{Max: -1}
	s, err = natsprovider.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Post(context.Background(), e)
	if err == nil {
		t.Fatal("Post trusted an unknown CA")
	}
	checkNoSecret(t, err)
}
