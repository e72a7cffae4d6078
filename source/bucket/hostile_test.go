package bucket_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gitopskit/gitopskit/source/bucket"
)

// hostileServer lists the given keys (URL-encoded, as S3 does with
// encoding-type=url) and serves any object; it checks no signature. The
// real server of the other tests cannot store such keys, which is what
// makes this double necessary: a compromised or malicious endpoint may
// list them.
func hostileServer(t *testing.T, keys []string) (*httptest.Server, *atomic.Int64) {
	var gets atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("list-type") == "2" {
			var b strings.Builder
			b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
			fmt.Fprintf(&b, `<Name>hostile</Name><Prefix></Prefix><KeyCount>%d</KeyCount><MaxKeys>1000</MaxKeys><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>`, len(keys))
			for _, k := range keys {
				fmt.Fprintf(&b, `<Contents><Key>%s</Key><ETag>"0123"</ETag><Size>4</Size><StorageClass>STANDARD</StorageClass></Contents>`, url.QueryEscape(k))
			}
			b.WriteString(`</ListBucketResult>`)
			w.Header().Set("Content-Type", "application/xml")
			w.Write([]byte(b.String()))
			return
		}
		gets.Add(1)
		w.Header().Set("ETag", `"0123"`)
		w.Write([]byte("evil"))
	}))
	t.Cleanup(srv.Close)
	return srv, &gets
}

func TestS3HostileKeysRefused(t *testing.T) {
	for _, key := range []string{"../../escape.yaml", "/etc/cron.d/x", `..\..\x`, "a\x00b", "a/../../b"} {
		t.Run(url.PathEscape(key), func(t *testing.T) {
			srv, gets := hostileServer(t, []string{"fine.yaml", key})
			p, err := bucket.NewS3(bucket.S3Options{
				Endpoint: strings.TrimPrefix(srv.URL, "http://"), Bucket: "hostile", Region: testRegion,
				AccessKey: testAccess, SecretKey: testSecret, Insecure: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			root := t.TempDir()
			_, err = (&bucket.Bucket{Provider: p}).Fetch(context.Background(), filepath.Join(root, "x", "y", "out"), "")
			if !errors.Is(err, bucket.ErrUnsafeKey) {
				t.Fatalf("Fetch: %v, want ErrUnsafeKey", err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
				t.Errorf("error does not name the key: %v", err)
			}
			if n := gets.Load(); n != 0 {
				t.Errorf("%d objects downloaded", n)
			}
			entries, _ := os.ReadDir(root)
			if len(entries) != 0 {
				t.Errorf("something was written: %v", entries)
			}
		})
	}
}

// TestS3KeyOutsidePrefix: a listing that returns a key outside the
// requested prefix is refused rather than written.
func TestS3KeyOutsidePrefix(t *testing.T) {
	srv, gets := hostileServer(t, []string{"apps/a.yaml", "etc/evil.yaml"})
	p, err := bucket.NewS3(bucket.S3Options{
		Endpoint: strings.TrimPrefix(srv.URL, "http://"), Bucket: "hostile", Region: testRegion, Insecure: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&bucket.Bucket{Provider: p, Prefix: "apps/"}).Fetch(context.Background(), t.TempDir(), "")
	if !errors.Is(err, bucket.ErrUnsafeKey) || !strings.Contains(err.Error(), `"etc/evil.yaml"`) {
		t.Fatalf("Fetch: %v, want ErrUnsafeKey naming etc/evil.yaml", err)
	}
	if gets.Load() != 0 {
		t.Errorf("%d downloads", gets.Load())
	}
}
