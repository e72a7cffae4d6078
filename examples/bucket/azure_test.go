package bucket_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gitopskit/gitopskit/examples/bucket"
	"github.com/gitopskit/gitopskit/internal/testcert"
	srcbucket "github.com/gitopskit/gitopskit/source/bucket"
	"github.com/gitopskit/gitopskit/source/bucket/azureblob"
)

func TestAzureOptions(t *testing.T) {
	const (
		azureEP   = "https://acct.blob.core.windows.net"
		tenant    = "72f988bf-86f1-41af-91ab-2d7cd011db47"
		client    = "0f6c1a8e-3b7d-4c55-9e0a-1d2f3a4b5c6d"
		secretVal = "client-Secret-Vq8zK3"
		key       = "YWNjb3VudC1rZXktVm4yUHE="
		sig       = "c2lnbmF0dXJlLUJ4N3dK"
	)
	certPEM := rsaClientCertificate(t)
	spec := func(endpoint string, insecure bool) sourcev1.BucketSpec {
		return sourcev1.BucketSpec{Provider: sourcev1.BucketProviderAzure, BucketName: "manifests", Endpoint: endpoint, Insecure: insecure}
	}
	type credKind string
	for _, tc := range []struct {
		name    string
		spec    sourcev1.BucketSpec
		secret  map[string]string
		want    azureblob.Options // compared without Credential
		cred    credKind          // the Credential's type, if any
		wantErr string
	}{
		{name: "anonymous", spec: spec(azureEP, false),
			want: azureblob.Options{Endpoint: azureEP, Container: "manifests"}},
		{name: "empty Secret is anonymous", spec: spec(azureEP+"/", false), secret: map[string]string{},
			want: azureblob.Options{Endpoint: azureEP + "/", Container: "manifests"}},
		{name: "host without scheme", spec: spec("acct.blob.core.windows.net", false),
			want: azureblob.Options{Endpoint: azureEP, Container: "manifests"}},
		{name: "host without scheme, insecure", spec: spec("127.0.0.1:10000/devstoreaccount1", true),
			want: azureblob.Options{Endpoint: "http://127.0.0.1:10000/devstoreaccount1", Container: "manifests", Insecure: true}},
		{name: "account key", spec: spec(azureEP, false), secret: map[string]string{"accountKey": key + "\n"},
			want: azureblob.Options{Endpoint: azureEP, Container: "manifests", AccountName: "acct", AccountKey: key}},
		{name: "account key, emulator", spec: spec("http://127.0.0.1:10000/devstoreaccount1", true), secret: map[string]string{"accountKey": key},
			want: azureblob.Options{Endpoint: "http://127.0.0.1:10000/devstoreaccount1", Container: "manifests", Insecure: true,
				AccountName: "devstoreaccount1", AccountKey: key}},
		{name: "account key wins over SAS, as in Flux", spec: spec(azureEP, false),
			secret: map[string]string{"accountKey": key, "sasKey": "sig=" + sig},
			want:   azureblob.Options{Endpoint: azureEP, Container: "manifests", AccountName: "acct", AccountKey: key}},
		{name: "SAS key", spec: spec(azureEP, false), secret: map[string]string{"sasKey": "?sv=2024-08-04&sp=rl&sig=" + sig},
			want: azureblob.Options{Endpoint: azureEP, Container: "manifests", SASToken: "sig=" + sig + "&sp=rl&sv=2024-08-04"}},
		{name: "SAS key merged with the endpoint's query", spec: spec(azureEP+"?sv=2020-01-01&sr=c", false),
			secret: map[string]string{"sasKey": "sv=2024-08-04&sig=" + sig},
			want:   azureblob.Options{Endpoint: azureEP, Container: "manifests", SASToken: "sig=" + sig + "&sr=c&sv=2024-08-04"}},
		{name: "SAS in the endpoint", spec: spec(azureEP+"?sv=2024-08-04&sig="+sig, false),
			want: azureblob.Options{Endpoint: azureEP, Container: "manifests", SASToken: "sig=" + sig + "&sv=2024-08-04"}},
		{name: "service principal with a secret", spec: spec(azureEP, false),
			secret: map[string]string{"tenantId": tenant, "clientId": client, "clientSecret": secretVal, "authorityHost": "https://login.microsoftonline.us/"},
			want:   azureblob.Options{Endpoint: azureEP, Container: "manifests"}, cred: "*azidentity.ClientSecretCredential"},
		{name: "service principal with a certificate", spec: spec(azureEP, false),
			secret: map[string]string{"tenantId": tenant, "clientId": client, "clientCertificate": string(certPEM), "clientCertificateSendChain": "true"},
			want:   azureblob.Options{Endpoint: azureEP, Container: "manifests"}, cred: "*azidentity.ClientCertificateCredential"},
		{name: "managed identity", spec: spec(azureEP, false), secret: map[string]string{"clientId": client},
			want: azureblob.Options{Endpoint: azureEP, Container: "manifests"}, cred: "*azidentity.ManagedIdentityCredential"},

		{name: "no endpoint", spec: spec("", false), wantErr: "spec.endpoint is not set"},
		{name: "endpoint not a URL", spec: spec("https://%zz", false), wantErr: "spec.endpoint is not a URL"},
		{name: "account key without account in endpoint", spec: spec("https://blob.example", false),
			secret: map[string]string{"accountKey": key}, wantErr: "'accountKey' needs the account name from spec.endpoint"},
		{name: "SAS key without signature", spec: spec(azureEP, false), secret: map[string]string{"sasKey": "sv=2024-08-04&sp=rl"},
			wantErr: "'sasKey' is not a SAS token"},
		{name: "SAS key not a query", spec: spec(azureEP, false), secret: map[string]string{"sasKey": "sig=%zz" + sig},
			wantErr: "'sasKey' is not a SAS token"},
		{name: "account key and SAS in the endpoint", spec: spec(azureEP+"?sig="+sig, false),
			secret: map[string]string{"accountKey": key}, wantErr: "spec.endpoint holds a query string"},
		{name: "tenant without client", spec: spec(azureEP, false), secret: map[string]string{"tenantId": tenant, "clientSecret": secretVal},
			wantErr: "'tenantId' needs 'clientId'"},
		{name: "tenant and client without secret", spec: spec(azureEP, false), secret: map[string]string{"tenantId": tenant, "clientId": client},
			wantErr: "'tenantId' and 'clientId' need 'clientSecret' or 'clientCertificate'"},
		{name: "client secret alone", spec: spec(azureEP, false), secret: map[string]string{"clientSecret": secretVal},
			wantErr: "need 'tenantId' and 'clientId'"},
		{name: "bad tenant", spec: spec(azureEP, false), secret: map[string]string{"tenantId": "not a tenant!", "clientId": client, "clientSecret": secretVal},
			wantErr: "'tenantId' or 'clientId' is not valid"},
		{name: "certificate unreadable", spec: spec(azureEP, false),
			secret:  map[string]string{"tenantId": tenant, "clientId": client, "clientCertificate": "-----BEGIN " + secretVal},
			wantErr: "'clientCertificate' holds no certificate and private key"},
		{name: "send chain not a bool", spec: spec(azureEP, false),
			secret:  map[string]string{"tenantId": tenant, "clientId": client, "clientCertificate": string(certPEM), "clientCertificateSendChain": "maybe"},
			wantErr: "'clientCertificateSendChain' is not true or false"},
		{name: "authority host not https", spec: spec(azureEP, false),
			secret:  map[string]string{"tenantId": tenant, "clientId": client, "clientSecret": secretVal, "authorityHost": "http://login.example"},
			wantErr: "'authorityHost' is not an https URL"},
		{name: "no known key", spec: spec(azureEP, false), secret: map[string]string{"accesskey": "a", "secretkey": secretVal},
			wantErr: "the Secret holds none of 'accountKey', 'sasKey', 'clientId'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var data map[string][]byte
			if tc.secret != nil {
				data = map[string][]byte{}
				for k, v := range tc.secret {
					data[k] = []byte(v)
				}
			}
			got, err := bucket.AzureOptions(tc.spec, data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				for _, s := range []string{secretVal, key, sig} {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error holds a secret value: %s", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if gotKind := credKind(credType(got)); gotKind != tc.cred {
				t.Errorf("credential %s, want %s", gotKind, tc.cred)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(azureblob.Options{}, "Credential")); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
			// The provider accepts what the mapping produces.
			if _, err := azureblob.New(got); err != nil {
				t.Errorf("azureblob.New: %v", err)
			}
		})
	}
}

// rsaClientCertificate returns a self-signed RSA certificate and its
// PKCS#8 key in PEM, the form of a service principal's certificate.
func rsaClientCertificate(t *testing.T) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gitopskit test principal"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})...)
}

func credType(o azureblob.Options) string {
	if o.Credential == nil {
		return ""
	}
	return fmt.Sprintf("%T", o.Credential)
}

func TestAzureTLSAndProxy(t *testing.T) {
	certs := testcert.New(t)
	var o azureblob.Options
	if err := bucket.AzureTLS(&o, map[string][]byte{"ca.crt": certs.CA}); err != nil || string(o.CA) != string(certs.CA) {
		t.Fatalf("AzureTLS: %v", err)
	}
	if err := bucket.AzureTLS(&o, map[string][]byte{"tls.crt": certs.Cert, "tls.key": certs.Key}); err == nil {
		t.Error("AzureTLS accepted a client certificate")
	}
	if err := bucket.AzureProxy(&o, map[string][]byte{"address": []byte("http://proxy:3128"), "username": []byte("u"), "password": []byte("p")}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&srcbucket.Proxy{URL: "http://proxy:3128", Username: "u", Password: "p"}, o.Proxy); diff != "" {
		t.Errorf("proxy (-want +got):\n%s", diff)
	}
	if err := bucket.AzureProxy(&o, map[string][]byte{"username": []byte("u")}); err == nil || !strings.Contains(err.Error(), "'address'") {
		t.Errorf("AzureProxy without address: %v", err)
	}
}
