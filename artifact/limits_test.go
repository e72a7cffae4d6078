package artifact_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/artifact"
)

// claimedSize returns a tar.gz whose only entry declares size bytes of
// content but carries none, so a cap must trip on the header alone.
func claimedSize(t *testing.T, size int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	gw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gw)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "big.bin", Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	// The body is left out on purpose; tw is not closed.
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rootEntries returns a tar.gz of n "./" directory entries, which cost
// nothing to extract but count towards the entry cap.
func rootEntries(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	gw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(gw)
	for range n {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestUnpackCaps(t *testing.T) {
	if artifact.DefaultMaxUnpackSize != 100<<20 {
		t.Fatalf("DefaultMaxUnpackSize = %d, want 100 MiB", artifact.DefaultMaxUnpackSize)
	}
	overSize := claimedSize(t, artifact.DefaultMaxUnpackSize+1)
	atSize := claimedSize(t, artifact.DefaultMaxUnpackSize)
	overEntries := rootEntries(t, artifact.DefaultMaxEntries+1)
	tests := []struct {
		name    string
		data    []byte
		opts    artifact.UnpackOptions
		tooBig  bool   // want ErrTooLarge
		wantMsg string // in the error when tooBig
	}{
		// A body-less entry that passes the size cap then fails on the
		// missing content, which proves the cap let it through.
		{name: "size: zero means the default cap", data: overSize, tooBig: true, wantMsg: "larger than 104857600 bytes"},
		{name: "size: default cap is inclusive", data: atSize},
		{name: "size: explicit cap", data: claimedSize(t, 1001), opts: artifact.UnpackOptions{MaxSize: 1000}, tooBig: true, wantMsg: "larger than 1000 bytes"},
		{name: "size: explicit cap above the default", data: overSize, opts: artifact.UnpackOptions{MaxSize: 200 << 20}},
		{name: "size: Unlimited lifts the cap", data: overSize, opts: artifact.UnpackOptions{MaxSize: artifact.Unlimited}},
		{name: "entries: zero means the default cap", data: overEntries, tooBig: true, wantMsg: "more than 100000 entries"},
		{name: "entries: explicit cap", data: rootEntries(t, 11), opts: artifact.UnpackOptions{MaxEntries: 10}, tooBig: true, wantMsg: "more than 10 entries"},
		{name: "entries: Unlimited lifts the cap", data: overEntries, opts: artifact.UnpackOptions{MaxEntries: artifact.Unlimited}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := artifact.Unpack(context.Background(), bytes.NewReader(tt.data), filepath.Join(t.TempDir(), "out"), tt.opts)
			if tt.tooBig {
				if !errors.Is(err, artifact.ErrTooLarge) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("err = %v, want ErrTooLarge mentioning %q", err, tt.wantMsg)
				}
				return
			}
			if errors.Is(err, artifact.ErrTooLarge) {
				t.Errorf("err = %v, want the cap not to apply", err)
			}
			if bytes.Equal(tt.data, overSize) || bytes.Equal(tt.data, atSize) {
				// Only the missing body may stop it.
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("err = %v, want the missing content to be reported", err)
				}
			} else if err != nil {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestFailedUnpackLeavesNothingBehind(t *testing.T) {
	good := buildTarGz(t, entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "a/ok.yaml"}, body: "ok"})
	bad := buildTarGz(t,
		entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "a/first.yaml"}, body: "written before the failure"},
		entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "a/l", Linkname: "/etc"}},
	)
	truncated := good[:len(good)-10]
	for _, tc := range []struct {
		name   string
		data   []byte
		before func(t *testing.T, dst string) // prepares dst
	}{
		{name: "missing target, refused entry", data: bad},
		{name: "missing target, truncated stream", data: truncated},
		{name: "empty target, refused entry", data: bad, before: func(t *testing.T, dst string) {
			if err := os.Mkdir(dst, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dst := filepath.Join(parent, "out")
			if tc.before != nil {
				tc.before(t, dst)
			}
			if _, err := artifact.Unpack(context.Background(), bytes.NewReader(tc.data), dst, artifact.UnpackOptions{}); err == nil {
				t.Fatal("Unpack succeeded")
			}
			entries, _ := os.ReadDir(parent)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			want := ""
			if tc.before != nil {
				want = "out"
				if got := readTree(t, dst); len(got) != 0 {
					t.Errorf("target holds %v after a failed unpack", got)
				}
			}
			if strings.Join(names, ",") != want {
				t.Errorf("parent holds %v after a failed unpack, want %q", names, want)
			}
		})
	}
	// A successful unpack into an empty directory lands in it.
	dst := t.TempDir()
	if _, err := artifact.Unpack(context.Background(), bytes.NewReader(good), dst, artifact.UnpackOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, dst); got["a/ok.yaml"] != "ok" {
		t.Errorf("unpacked %v", got)
	}
}

func TestFetcherDownloadCap(t *testing.T) {
	if artifact.DefaultMaxDownloadSize != 50<<20 {
		t.Fatalf("DefaultMaxDownloadSize = %d", artifact.DefaultMaxDownloadSize)
	}
	size := artifact.DefaultMaxDownloadSize + 1
	// Streamed without a Content-Length, so only counting can stop it.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 1<<20)
		for left := size; left > 0; {
			n := min(int64(len(chunk)), left)
			if _, err := w.Write(chunk[:n]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			left -= n
		}
	}))
	defer srv.Close()
	digest, err := artifact.DigestOf(io.LimitReader(zeros{}, size), "sha256")
	if err != nil {
		t.Fatal(err)
	}
	a := artifact.Artifact{URL: srv.URL + "/big.bin", Digest: digest}
	for _, tc := range []struct {
		limit   int64
		tooBig  bool
		wantMsg string
	}{
		{limit: 0, tooBig: true, wantMsg: fmt.Sprintf("larger than %d bytes", artifact.DefaultMaxDownloadSize)},
		{limit: 1 << 20, tooBig: true, wantMsg: "larger than 1048576 bytes"},
		{limit: artifact.Unlimited},
		{limit: size},
	} {
		t.Run(fmt.Sprint(tc.limit), func(t *testing.T) {
			f := &artifact.Fetcher{MaxDownloadSize: tc.limit}
			dst := filepath.Join(t.TempDir(), "big.bin")
			err := f.Download(context.Background(), a, dst)
			if tc.tooBig {
				if !errors.Is(err, artifact.ErrTooLarge) || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Errorf("err = %v, want ErrTooLarge mentioning %q", err, tc.wantMsg)
				}
				if _, serr := os.Stat(dst); !os.IsNotExist(serr) {
					t.Errorf("file kept after a refused download: %v", serr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(dst); err != nil || fi.Size() != size {
				t.Errorf("downloaded file: %v, %v", fi, err)
			}
		})
	}
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}
