package artifact_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/artifact"
)

// manyEntries is the size of the archive that tests the entry cap: twice
// DefaultMaxEntries, in 1-byte files spread over directories.
const manyEntries = 2 * artifact.DefaultMaxEntries

var (
	manyEntriesOnce sync.Once
	manyEntriesData []byte
	manyEntriesErr  error
)

// manyEntriesArchive returns a tar.gz of manyEntries tiny files, built once
// per test binary.
func manyEntriesArchive(tb testing.TB) []byte {
	tb.Helper()
	manyEntriesOnce.Do(func() {
		var buf bytes.Buffer
		gw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		if err != nil {
			manyEntriesErr = err
			return
		}
		tw := tar.NewWriter(gw)
		for i := range manyEntries {
			h := &tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("d%03d/f%06d", i/1000, i), Mode: 0o600, Size: 1}
			if err := tw.WriteHeader(h); err != nil {
				manyEntriesErr = err
				return
			}
			if _, err := tw.Write([]byte{'x'}); err != nil {
				manyEntriesErr = err
				return
			}
		}
		if err := tw.Close(); err != nil {
			manyEntriesErr = err
			return
		}
		if err := gw.Close(); err != nil {
			manyEntriesErr = err
			return
		}
		manyEntriesData = buf.Bytes()
	})
	if manyEntriesErr != nil {
		tb.Fatal(manyEntriesErr)
	}
	return manyEntriesData
}

// streamOnly hides every method but Read, as a network stream or a pipe
// would.
type streamOnly struct{ r io.Reader }

func (s streamOnly) Read(b []byte) (int, error) { return s.r.Read(b) }

// An archive over the entry cap is refused before a single file is
// written, whether the input can seek (a downloaded file) or not (a
// stream), and whatever the target holds already.
func TestUnpackEntryCapRefusedBeforeWriting(t *testing.T) {
	data := manyEntriesArchive(t)
	for _, tc := range []struct {
		name     string
		reader   func() io.Reader
		existing bool
	}{
		{name: "seekable, missing target", reader: func() io.Reader { return bytes.NewReader(data) }},
		{name: "stream, missing target", reader: func() io.Reader { return streamOnly{bytes.NewReader(data)} }},
		{name: "seekable, target with content", reader: func() io.Reader { return bytes.NewReader(data) }, existing: true},
		{name: "stream, target with content", reader: func() io.Reader { return streamOnly{bytes.NewReader(data)} }, existing: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dst := filepath.Join(parent, "out")
			if tc.existing {
				writeTree(t, dst, map[string]string{"keep.yaml": "kept"})
			}
			start := time.Now()
			res, err := artifact.Unpack(context.Background(), tc.reader(), dst, artifact.UnpackOptions{})
			t.Logf("refused a %d-entry archive (%d bytes compressed) in %v", manyEntries, len(data), time.Since(start))
			if !errors.Is(err, artifact.ErrTooLarge) || !strings.Contains(err.Error(), "more than 100000 entries") {
				t.Fatalf("err = %v, want the entry cap refusal", err)
			}
			if res.Files != 0 {
				t.Errorf("result reports %d files written", res.Files)
			}
			if !tc.existing {
				assertNothingWritten(t, dst)
				return
			}
			if got := readTree(t, dst); len(got) != 1 || got["keep.yaml"] != "kept" {
				t.Errorf("target holds %d files after the refusal, want only keep.yaml", len(got))
			}
			left, err := os.ReadDir(parent)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != 1 {
				for _, e := range left {
					t.Errorf("next to the target: %s", e.Name())
				}
			}
		})
	}
}

// BenchmarkUnpackEntryCapRefusal measures the refusal of an archive of
// twice DefaultMaxEntries tiny files, read from a seekable input.
func BenchmarkUnpackEntryCapRefusal(b *testing.B) {
	data := manyEntriesArchive(b)
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		_, err := artifact.Unpack(ctx, bytes.NewReader(data), filepath.Join(b.TempDir(), "out"), artifact.UnpackOptions{})
		if !errors.Is(err, artifact.ErrTooLarge) {
			b.Fatalf("err = %v, want ErrTooLarge", err)
		}
	}
}

// A refused entry late in an archive is found by the first pass, so a
// target that already has content gets none of the entries before it.
func TestUnpackRefusalLeavesExistingTargetUntouched(t *testing.T) {
	data := buildTarGz(t,
		entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "a/first.yaml"}, body: "would be written before the refusal"},
		entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "keep.yaml"}, body: "overwritten"},
		entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "a/l", Linkname: "/etc"}},
	)
	for name, reader := range map[string]func() io.Reader{
		"seekable": func() io.Reader { return bytes.NewReader(data) },
		"stream":   func() io.Reader { return streamOnly{bytes.NewReader(data)} },
	} {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			dst := filepath.Join(parent, "out")
			writeTree(t, dst, map[string]string{"keep.yaml": "kept"})
			if _, err := artifact.Unpack(context.Background(), reader(), dst, artifact.UnpackOptions{}); !errors.Is(err, artifact.ErrUnsafeEntry) {
				t.Fatalf("err = %v, want ErrUnsafeEntry", err)
			}
			if got := readTree(t, dst); len(got) != 1 || got["keep.yaml"] != "kept" {
				t.Errorf("target holds %v after the refusal", got)
			}
			if left, _ := os.ReadDir(parent); len(left) != 1 {
				t.Errorf("%d entries next to the target, want only the target", len(left))
			}
		})
	}
}

// A stream is spooled next to the target and the spool is removed; a
// seekable input is read from where it stood, not from its start.
func TestUnpackSpoolAndOffset(t *testing.T) {
	data := buildTarGz(t, entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "sub/cm.yaml"}, body: "kind: ConfigMap\n"})
	parent := t.TempDir()
	dst := filepath.Join(parent, "out")
	res, err := artifact.Unpack(context.Background(), streamOnly{bytes.NewReader(data)}, dst, artifact.UnpackOptions{})
	if err != nil || res.Files != 1 {
		t.Fatalf("stream: %+v, %v", res, err)
	}
	if got := readTree(t, dst); got["sub/cm.yaml"] != "kind: ConfigMap\n" {
		t.Errorf("stream: unpacked %v", got)
	}
	if left, _ := os.ReadDir(parent); len(left) != 1 {
		t.Errorf("stream: %d entries next to the target, want only the target", len(left))
	}

	r := bytes.NewReader(append([]byte("HEAD"), data...))
	if _, err := r.Seek(4, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	dst = filepath.Join(t.TempDir(), "out")
	if res, err := artifact.Unpack(context.Background(), r, dst, artifact.UnpackOptions{}); err != nil || res.Files != 1 {
		t.Fatalf("seekable at an offset: %+v, %v", res, err)
	}
}

// A stream whose compressed size is out of proportion to what it
// decompresses to (here: endless empty gzip members) is refused while it
// is spooled, once it passes the spool's cap.
func TestUnpackSpoolCap(t *testing.T) {
	var member bytes.Buffer
	gw := gzip.NewWriter(&member)
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buildTarGz(t, entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "a.yaml"}, body: "a"})
	opts := artifact.UnpackOptions{MaxSize: 1 << 10, MaxEntries: 1}
	// Stream cap: 1 KiB + 2 KiB + 2 MiB; spool cap: that plus 1/64th plus
	// 1 MiB. 200,000 empty members are about 4 MB.
	padding := bytes.Repeat(member.Bytes(), 200_000)
	parent := t.TempDir()
	dst := filepath.Join(parent, "out")
	_, err := artifact.Unpack(context.Background(), streamOnly{io.MultiReader(bytes.NewReader(data), bytes.NewReader(padding))}, dst, opts)
	if !errors.Is(err, artifact.ErrTooLarge) || !strings.Contains(err.Error(), "compressed archive is larger") {
		t.Fatalf("err = %v, want the spool cap refusal", err)
	}
	assertNothingWritten(t, dst)
}
