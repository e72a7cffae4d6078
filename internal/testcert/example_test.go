package testcert_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gitopskit/gitopskit/internal/testcert"
)

// A TLS server with a certificate of a new CA, and a client that trusts
// that CA only.
func TestServer(t *testing.T) {
	s := testcert.New(t)
	pair, err := tls.X509KeyPair(s.Cert, s.Key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	defer srv.Close()
	resp, err := (&http.Client{Transport: s.Transport(t)}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
		t.Errorf("body %q", b)
	}
	if _, err := http.Get(srv.URL); err == nil {
		t.Error("a client without the CA trusted the server")
	}
}

// Example issues a CA and a server certificate for a test.
func Example() {
	s, err := testcert.Issue()
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = tls.X509KeyPair(s.Cert, s.Key)
	fmt.Println(err)
	// Output: <nil>
}
