package azureblob_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/internal/testcert"
	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/bucket"
	"github.com/gitopskit/gitopskit/source/bucket/azureblob"
)

func TestNewRefuses(t *testing.T) {
	const key = "c2VjcmV0LWFjY291bnQta2V5"
	const sasToken = "sv=2024-08-04&sr=c&sp=rl&sig=U2lnbmF0dXJlLXZhbHVl"
	ok := azureblob.Options{Endpoint: "https://acct.blob.core.windows.net", Container: "manifests"}
	ca := testcert.New(t).CA
	for _, tc := range []struct {
		name string
		mod  func(*azureblob.Options)
		want string
	}{
		{"no container", func(o *azureblob.Options) { o.Container = "" }, "no container name"},
		{"upper-case container", func(o *azureblob.Options) { o.Container = "Manifests" }, `container name "Manifests"`},
		{"short container", func(o *azureblob.Options) { o.Container = "ab" }, `container name "ab"`},
		{"double hyphen", func(o *azureblob.Options) { o.Container = "a--b" }, `container name "a--b"`},
		{"no endpoint", func(o *azureblob.Options) { o.Endpoint = "" }, "no endpoint"},
		{"host only", func(o *azureblob.Options) { o.Endpoint = "acct.blob.core.windows.net" }, "is not a URL"},
		{"plain http", func(o *azureblob.Options) { o.Endpoint = "http://acct.blob.core.windows.net" }, "set Insecure"},
		{"https with insecure", func(o *azureblob.Options) { o.Insecure = true }, "Insecure asks for plain http"},
		{"ftp", func(o *azureblob.Options) { o.Endpoint = "ftp://acct.blob.core.windows.net" }, `scheme "ftp"`},
		{"userinfo", func(o *azureblob.Options) { o.Endpoint = "https://acct:" + key + "@acct.blob.core.windows.net" }, "user information"},
		{"query", func(o *azureblob.Options) { o.Endpoint = "https://acct.blob.core.windows.net/?" + sasToken }, "SASToken"},
		{"key and SAS", func(o *azureblob.Options) { o.AccountKey, o.SASToken = key, sasToken }, "alternatives"},
		{"key and token", func(o *azureblob.Options) { o.AccountKey, o.Credential = key, staticToken{} }, "alternatives"},
		{"name without key", func(o *azureblob.Options) { o.AccountName = "acct" }, "AccountName is set without AccountKey"},
		{"key not base64", func(o *azureblob.Options) { o.AccountKey = "not base64 " + key }, "AccountKey is not base64"},
		{"no account in endpoint", func(o *azureblob.Options) {
			o.Endpoint, o.AccountKey = "https://blob.example", key
		}, "no AccountName and endpoint host"},
		{"SAS without sig", func(o *azureblob.Options) { o.SASToken = "sv=2024-08-04&sp=rl" }, "'sig'"},
		{"page size", func(o *azureblob.Options) { o.PageSize = 5001 }, "PageSize 5001"},
		{"negative page size", func(o *azureblob.Options) { o.PageSize = -1 }, "PageSize -1"},
		{"CA not PEM", func(o *azureblob.Options) { o.CA = []byte("nope") }, "no PEM certificate"},
		{"CA with insecure", func(o *azureblob.Options) {
			o.Endpoint, o.Insecure, o.CA = "http://127.0.0.1:10000/acct", true, ca
		}, "CA certificate was given"},
		{"proxy scheme", func(o *azureblob.Options) { o.Proxy = &bucket.Proxy{URL: "ftp://proxy:21"} }, `proxy URL scheme "ftp"`},
		{"proxy not a URL", func(o *azureblob.Options) {
			o.Proxy = &bucket.Proxy{URL: "proxy", Username: "u", Password: "proxy-pw-Zt6"}
		}, "does not parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.mod(&o)
			_, err := azureblob.New(o)
			if !errors.Is(err, source.ErrInvalid) {
				t.Fatalf("New: %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			for _, s := range []string{key, "U2lnbmF0dXJlLXZhbHVl", "proxy-pw-Zt6"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error holds a secret: %s", err)
				}
			}
		})
	}
}

func TestNewAccepts(t *testing.T) {
	for _, o := range []azureblob.Options{
		{Endpoint: "https://acct.blob.core.windows.net/", Container: "manifests"},
		{Endpoint: "https://acct.blob.core.windows.net", Container: "$root", AccountKey: "a2V5"},
		{Endpoint: "https://blob.example", Container: "a-b-1", AccountName: "acct", AccountKey: "a2V5"},
		{Endpoint: "http://localhost:10000/devstoreaccount1", Container: "abc", Insecure: true, AccountKey: "a2V5", PageSize: 1},
		{Endpoint: "https://acct.blob.core.windows.net", Container: "abc", SASToken: "?sv=1&sig=eA%3D%3D",
			Proxy: &bucket.Proxy{URL: "socks5://proxy:1080"}, MaxRetries: -1},
		{Endpoint: "https://acct.blob.core.windows.net", Container: "abc", Credential: staticToken{token: "t"}},
	} {
		if _, err := azureblob.New(o); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
