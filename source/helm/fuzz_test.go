package helm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/source"
)

func seedArchive(files map[string]string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for n, d := range files {
		_ = tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(d)), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(d))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// FuzzReadArchive: any bytes as a packaged chart load or fail with one of
// the package's errors, never write outside the chart's paths, and a
// loaded chart packs and loads again to the same files.
func FuzzReadArchive(f *testing.F) {
	f.Add(seedArchive(map[string]string{"app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 1.0.0\n", "app/values.yaml": "a: 1\n"}))
	f.Add(seedArchive(map[string]string{"app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 1.0.0\n", "app/charts/dep/Chart.yaml": "apiVersion: v2\nname: dep\nversion: 0.1.0\n"}))
	f.Add(seedArchive(map[string]string{"app/../x": "x"}))
	f.Add([]byte("not gzip"))
	l := Limits{MaxFileSize: 1 << 16, MaxTotalSize: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := readArchive(bytes.NewReader(data), l)
		if err != nil {
			if !errors.Is(err, ErrInvalidChart) && !errors.Is(err, ErrPathEscape) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for n := range files {
			if strings.HasPrefix(n, "/") || n == ".." || strings.HasPrefix(n, "../") || strings.Contains(n, "/../") {
				t.Fatalf("unsafe path %q accepted", n)
			}
		}
		ch, err := loadChart(files, l, 0)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := ch.writeArchive(&buf); err != nil {
			t.Fatal(err)
		}
		again, err := readArchive(bytes.NewReader(buf.Bytes()), Limits{MaxFileSize: -1, MaxTotalSize: -1})
		if err != nil {
			t.Fatalf("a chart this package wrote does not load: %v", err)
		}
		if _, err := loadChart(again, Limits{}, 0); err != nil {
			t.Fatalf("a chart this package wrote does not load: %v", err)
		}
	})
}

// FuzzParseIndex: any bytes as an index parse or fail, never panic, and a
// parsed index answers lookups.
func FuzzParseIndex(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nentries:\n  app:\n  - {name: app, version: 1.0.0, urls: [a.tgz]}\n"))
	f.Add([]byte(`{"apiVersion":"v1","entries":{"app":[{"name":"app","version":"1.0.0","urls":["a"]}]}}`))
	f.Add([]byte("apiVersion: v1\nentries:\n  a: &a [{version: 1.0.0, urls: [x]}]\n  b: [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := ParseIndex(data)
		if err != nil {
			return
		}
		for name, vs := range ix.Entries {
			if len(vs) == 0 {
				t.Fatalf("chart %q kept without versions", name)
			}
			if _, err := ix.Get(name, ""); err != nil && !errors.Is(err, errRefNotFound()) {
				t.Fatalf("Get(%q): %v", name, err)
			}
		}
	})
}

// FuzzParseValues: values files parse or fail; merged values marshal.
func FuzzParseValues(f *testing.F) {
	f.Add([]byte("a: 1\nb:\n  c: [1, 2]\n"), []byte("b:\n  c: x\n"))
	f.Add([]byte(""), []byte("~"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ma, err := parseValues("a", a)
		if err != nil {
			return
		}
		mb, err := parseValues("b", b)
		if err != nil {
			return
		}
		ch := &chart{files: map[string][]byte{}}
		src := map[string][]byte{"a": a, "b": b}
		if _, err := ch.mergeValuesFiles([]string{"a", "b"}, false, func(n string) ([]byte, bool, error) { return src[n], true, nil }); err != nil {
			t.Fatalf("values %v and %v parsed but do not merge: %v", ma, mb, err)
		}
	})
}

func errRefNotFound() error { return source.ErrRefNotFound }
