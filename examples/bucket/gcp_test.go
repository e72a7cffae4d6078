package bucket_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gitopskit/gitopskit/examples/bucket"
	sourcebucket "github.com/gitopskit/gitopskit/source/bucket"
	"github.com/gitopskit/gitopskit/source/bucket/gcs"
)

// gcpKey returns a service-account JSON key, in the shape of the one in
// Flux's documentation, around a new RSA key.
func gcpKey(t *testing.T) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "example", "private_key_id": "28qwgh3gdf5hj3gb5fj3gsu5yfgh34f45324568hy2",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "test@example.iam.gserviceaccount.com", "client_id": "32657634678762536746",
		"auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token",
	})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestGCSOptions(t *testing.T) {
	key := gcpKey(t)
	spec := func(endpoint string, insecure bool) sourcev1.BucketSpec {
		return sourcev1.BucketSpec{Provider: sourcev1.BucketProviderGoogle, BucketName: "podinfo",
			Endpoint: endpoint, Insecure: insecure, Region: "us-east-1"}
	}
	for _, tc := range []struct {
		name    string
		spec    sourcev1.BucketSpec
		secret  map[string][]byte
		want    gcs.Options
		wantErr string
	}{
		{name: "Flux's static auth example", spec: spec("storage.googleapis.com", false),
			secret: map[string][]byte{"serviceaccount": key},
			want:   gcs.Options{Bucket: "podinfo", ServiceAccountKey: key}},
		{name: "key with surrounding blank lines", spec: spec("storage.googleapis.com", false),
			secret: map[string][]byte{"serviceaccount": append(append([]byte("\n"), key...), '\n')},
			want:   gcs.Options{Bucket: "podinfo", ServiceAccountKey: key}},
		{name: "no secretRef: anonymous", spec: spec("storage.googleapis.com", false),
			want: gcs.Options{Bucket: "podinfo"}},
		{name: "public endpoint with scheme, port and path", spec: spec("https://Storage.googleapis.com:443/storage/v1/", false),
			want: gcs.Options{Bucket: "podinfo"}},
		{name: "public endpoint marked insecure (Flux ignores it)", spec: spec("http://storage.googleapis.com", true),
			want: gcs.Options{Bucket: "podinfo"}},
		{name: "private endpoint", spec: spec("storage-example.p.googleapis.com", false),
			want: gcs.Options{Bucket: "podinfo", Endpoint: "storage-example.p.googleapis.com"}},
		{name: "emulator over http", spec: spec("http://127.0.0.1:4443", true),
			secret: map[string][]byte{"serviceaccount": key},
			want:   gcs.Options{Bucket: "podinfo", Endpoint: "http://127.0.0.1:4443", Insecure: true, ServiceAccountKey: key}},
		{name: "secret without the key", spec: spec("storage.googleapis.com", false),
			secret:  map[string][]byte{"accesskey": []byte("AKIA"), "secretkey": []byte("s3cr3t-value")},
			wantErr: "required key 'serviceaccount' is not set"},
		{name: "empty key", spec: spec("storage.googleapis.com", false),
			secret:  map[string][]byte{"serviceaccount": []byte(" \n")},
			wantErr: "required key 'serviceaccount' is not set"},
		{name: "key not JSON", spec: spec("storage.googleapis.com", false),
			secret:  map[string][]byte{"serviceaccount": []byte("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\n-----END PRIVATE KEY-----\n")},
			wantErr: "'serviceaccount' is not a JSON service-account key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := bucket.GCSOptions(tc.spec, tc.secret)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				for _, v := range tc.secret {
					if s := strings.TrimSpace(string(v)); len(s) > 3 && strings.Contains(err.Error(), s) {
						t.Errorf("error %q holds a value of the Secret", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
			// The mapped options are accepted as they are.
			p, err := gcs.New(context.Background(), got)
			if err != nil {
				t.Fatalf("gcs.New refuses the mapped options: %v", err)
			}
			p.Close()
		})
	}

	// An http:// endpoint other than Google's needs spec.insecure, as in
	// Flux for the other providers: gcs.New says so.
	o, err := bucket.GCSOptions(spec("http://127.0.0.1:4443", false), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gcs.New(context.Background(), o); err == nil || !strings.Contains(err.Error(), "set Insecure") {
		t.Errorf("http endpoint without spec.insecure: %v", err)
	}
}

func TestGCSTLSAndProxy(t *testing.T) {
	var o gcs.Options
	if err := bucket.GCSTLS(&o, map[string][]byte{"ca.crt": []byte("PEM")}); err != nil || string(o.CA) != "PEM" {
		t.Errorf("ca.crt: %v, CA %q", err, o.CA)
	}
	err := bucket.GCSTLS(&o, map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")})
	if !errors.Is(err, bucket.ErrNotSupported) {
		t.Errorf("client certificate: %v, want ErrNotSupported", err)
	}
	if err := bucket.GCSTLS(&o, map[string][]byte{"other": []byte("x")}); err == nil {
		t.Error("a certSecretRef without ca.crt was accepted")
	}
	err = bucket.GCSProxy(&o, map[string][]byte{"address": []byte("http://proxy:3128"), "username": []byte("u"), "password": []byte("p4ss")})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&sourcebucket.Proxy{URL: "http://proxy:3128", Username: "u", Password: "p4ss"}, o.Proxy); diff != "" {
		t.Errorf("proxy (-want +got):\n%s", diff)
	}
	if err := bucket.GCSProxy(&o, map[string][]byte{"username": []byte("u")}); err == nil || !strings.Contains(err.Error(), "'address'") {
		t.Errorf("proxy Secret without address: %v", err)
	}
}
