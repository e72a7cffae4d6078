package azureblob_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/internal/testcert"
)

// testAccount is the storage account the tests' Azurite serves, with a
// key of their own rather than the emulator's well-known one.
const testAccount = "gitopskit"

var testKey = base64.StdEncoding.EncodeToString([]byte("gitopskit-azurite-account-key-Qm4vT8zR2wX6yN1p"))

// azurite is an Azurite blob service started for a test.
type azurite struct {
	Endpoint string // account URL, http:// or https://
	CA       []byte // the CA of its certificate when it serves HTTPS
	cred     *container.SharedKeyCredential
	tr       http.RoundTripper
}

// startAzurite starts Azurite's blob service on a free port with an empty
// workspace and stops it at cleanup.
func startAzurite(tb testing.TB) *azurite { return startAzuriteWith(tb, false) }

// startAzuriteTLS starts Azurite serving HTTPS with a certificate for
// 127.0.0.1 issued by a new CA, accepting bearer tokens ("--oauth basic").
func startAzuriteTLS(tb testing.TB) *azurite { return startAzuriteWith(tb, true) }

func startAzuriteWith(tb testing.TB, secure bool) *azurite {
	tb.Helper()
	bin := testbin.Tool(tb, "azurite")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr)
	l.Close()
	args := []string{"--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(addr.Port),
		"--location", tb.TempDir(), "--disableTelemetry",
		// The SDK sends service version 2026-12-06, Azurite 3.35
		// declares 2025-11-05; the operations used here are older than
		// both.
		"--skipApiVersionCheck"}
	scheme := "http"
	var ca []byte
	var tr http.RoundTripper = http.DefaultTransport
	if secure {
		certs := testcert.New(tb)
		certFile, keyFile := certs.Files(tb)
		args = append(args, "--cert", certFile, "--key", keyFile, "--oauth", "basic")
		scheme, ca, tr = "https", certs.CA, certs.Transport(tb)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "AZURITE_ACCOUNTS="+testAccount+":"+testKey)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if tb.Failed() {
			tb.Logf("azurite output:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr.String(), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("azurite did not listen on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cred, err := container.NewSharedKeyCredential(testAccount, testKey)
	if err != nil {
		tb.Fatal(err)
	}
	return &azurite{Endpoint: scheme + "://" + addr.String() + "/" + testAccount, CA: ca, cred: cred, tr: tr}
}

// admin returns a client for a container, signed with the account key.
func (a *azurite) admin(tb testing.TB, name string) *container.Client {
	tb.Helper()
	c, err := container.NewClientWithSharedKeyCredential(a.Endpoint+"/"+name, a.cred, &container.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: &http.Client{Transport: a.tr}, InsecureAllowCredentialWithHTTP: true},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// MakeContainer creates a private container with the given blobs (name →
// content).
func (a *azurite) MakeContainer(tb testing.TB, name string, blobs map[string]string) {
	a.makeContainer(tb, name, nil, blobs)
}

// MakePublicContainer creates a container whose blobs and listing anyone
// may read.
func (a *azurite) MakePublicContainer(tb testing.TB, name string, blobs map[string]string) {
	public := container.PublicAccessTypeContainer
	a.makeContainer(tb, name, &public, blobs)
}

func (a *azurite) makeContainer(tb testing.TB, name string, access *container.PublicAccessType, blobs map[string]string) {
	tb.Helper()
	if _, err := a.admin(tb, name).Create(context.Background(), &container.CreateOptions{Access: access}); err != nil {
		tb.Fatal(err)
	}
	a.Put(tb, name, blobs)
}

// Put uploads blobs, up to 16 at a time.
func (a *azurite) Put(tb testing.TB, name string, blobs map[string]string) {
	tb.Helper()
	c := a.admin(tb, name)
	var (
		wg    sync.WaitGroup
		sem   = make(chan struct{}, 16)
		mu    sync.Mutex
		first error
	)
	for k, v := range blobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := c.NewBlockBlobClient(k).UploadBuffer(context.Background(), []byte(v), nil); err != nil {
				mu.Lock()
				first = fmt.Errorf("put %s: %w", k, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		tb.Fatal(first)
	}
}

// Delete removes a blob.
func (a *azurite) Delete(tb testing.TB, name, key string) {
	tb.Helper()
	if _, err := a.admin(tb, name).NewBlobClient(key).Delete(context.Background(), nil); err != nil {
		tb.Fatal(err)
	}
}

// SAS returns a container SAS token's query string granting perms.
func (a *azurite) SAS(tb testing.TB, name string, perms sas.ContainerPermissions) string {
	tb.Helper()
	q, err := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		StartTime:     time.Now().Add(-time.Hour).UTC(),
		ExpiryTime:    time.Now().Add(time.Hour).UTC(),
		Permissions:   perms.String(),
		ContainerName: name,
	}.SignWithSharedKey(a.cred)
	if err != nil {
		tb.Fatal(err)
	}
	return q.Encode()
}

// staticToken is a token credential handing out a fixed token, or an
// error.
type staticToken struct {
	token string
	err   error
}

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if s.err != nil {
		return azcore.AccessToken{}, s.err
	}
	return azcore.AccessToken{Token: s.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// countingProxy is a forward HTTP proxy that records the requests it
// relays, and requires basic credentials when user is set.
type countingProxy struct {
	*httptest.Server
	mu         sync.Mutex
	requests   []string
	user, pass string
}

func newCountingProxy(tb testing.TB, user, pass string) *countingProxy {
	p := &countingProxy{user: user, pass: pass}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		if p.user != "" {
			want := "Basic " + base64.StdEncoding.EncodeToString([]byte(p.user+":"+p.pass))
			if r.Header.Get("Proxy-Authorization") != want {
				w.Header().Set("Proxy-Authenticate", `Basic realm="test"`)
				http.Error(w, "proxy credentials needed", http.StatusProxyAuthRequired)
				return
			}
		}
		p.mu.Lock()
		p.requests = append(p.requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		p.mu.Unlock()
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.Header.Del("Proxy-Authorization")
		resp, err := tr.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				w.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}))
	tb.Cleanup(p.Close)
	tb.Cleanup(tr.CloseIdleConnections)
	return p
}

// Listings returns how many listing requests were relayed.
func (p *countingProxy) Listings() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.requests {
		if strings.Contains(r, "comp=list") {
			n++
		}
	}
	return n
}
