package bucket_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/bucket"
	"github.com/minio/minio-go/v7"
)

// BenchmarkFetch5000 fetches 5,000 small objects from versitygw with 1, 4
// and 16 workers, beside a plain sequential minio-go loop (list, then get
// each object into a file) as the reference, and times the no-op check.
func BenchmarkFetch5000(b *testing.B) {
	const n = 5000
	srv := startS3(b)
	objects := make(map[string]string, n)
	for i := range n {
		objects[fmt.Sprintf("apps/%02d/obj-%04d.yaml", i%50, i)] = fmt.Sprintf("kind: ConfigMap\nmetadata:\n  name: cm-%d\n", i)
	}
	srv.MakeBucket(b, "bench", objects)
	p, err := bucket.NewS3(bucket.S3Options{
		Endpoint: srv.Endpoint, Region: testRegion, Bucket: "bench",
		AccessKey: testAccess, SecretKey: testSecret, Insecure: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var rev string
	for _, w := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			src := &bucket.Bucket{Provider: p, Workers: w}
			for i := 0; b.Loop(); i++ {
				dir := filepath.Join(b.TempDir(), fmt.Sprint(i))
				snap, err := src.Fetch(ctx, dir, "")
				if err != nil {
					b.Fatal(err)
				}
				rev = snap.Revision
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
		})
	}
	b.Run("minio-go-sequential", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			dir := filepath.Join(b.TempDir(), fmt.Sprint(i))
			for o := range srv.admin.ListObjects(ctx, "bench", minio.ListObjectsOptions{Recursive: true}) {
				if o.Err != nil {
					b.Fatal(o.Err)
				}
				if err := getInto(ctx, srv.admin, dir, o.Key); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
	})
	b.Run("no-op", func(b *testing.B) {
		src := &bucket.Bucket{Provider: p}
		for b.Loop() {
			if _, err := src.Fetch(ctx, b.TempDir(), rev); !errors.Is(err, source.ErrUnchanged) {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFetch5000Latency fetches the same 5,000 objects through a
// proxy that adds 5ms to every request, as a distant server would: the
// case the workers are for.
func BenchmarkFetch5000Latency(b *testing.B) {
	const n = 5000
	srv := startS3(b)
	objects := make(map[string]string, n)
	for i := range n {
		objects[fmt.Sprintf("apps/%02d/obj-%04d.yaml", i%50, i)] = fmt.Sprintf("kind: ConfigMap\nmetadata:\n  name: cm-%d\n", i)
	}
	srv.MakeBucket(b, "bench", objects)
	proxy := newDelayingProxy(b, 5*time.Millisecond)
	p, err := bucket.NewS3(bucket.S3Options{
		Endpoint: srv.Endpoint, Region: testRegion, Bucket: "bench",
		AccessKey: testAccess, SecretKey: testSecret, Insecure: true,
		Proxy: &bucket.Proxy{URL: proxy.URL},
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, w := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			src := &bucket.Bucket{Provider: p, Workers: w}
			for i := 0; b.Loop(); i++ {
				if _, err := src.Fetch(context.Background(), filepath.Join(b.TempDir(), fmt.Sprint(i)), ""); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
		})
	}
}

func getInto(ctx context.Context, c *minio.Client, dir, key string) error {
	obj, err := c.GetObject(ctx, "bench", key, minio.GetObjectOptions{})
	if err != nil {
		return err
	}
	defer obj.Close()
	path := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, obj); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
