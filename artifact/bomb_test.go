package artifact_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/artifact"
)

// rawHeader returns one 512-byte ustar header block, built by hand because
// archive/tar refuses to write extended headers on their own.
func rawHeader(name string, typeflag byte, size int64) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	copy(b[100:108], "0000644\x00")
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], fmt.Sprintf("%011o\x00", size))
	copy(b[136:148], "00000000000\x00")
	b[156] = typeflag
	copy(b[257:263], "ustar\x00")
	copy(b[263:265], "00")
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// padded returns b followed by zeros up to a multiple of 512 bytes.
func padded(b []byte) []byte {
	if r := len(b) % 512; r != 0 {
		b = append(b, make([]byte, 512-r)...)
	}
	return b
}

// paxRecord returns one PAX record "<len> key=value\n" of about size bytes.
func paxRecord(key string, size int) []byte {
	value := strings.Repeat("a", size)
	body := " " + key + "=" + value + "\n"
	n := len(body)
	for {
		total := len(strconv.Itoa(n)) + len(body)
		if total == n {
			break
		}
		n = total
	}
	return []byte(strconv.Itoa(n) + body)
}

// headerBomb writes count consecutive extended headers of typeflag ('x'
// for PAX, 'L' for a GNU long name) of about 1000 KiB each (the tar
// reader's own per-header limit is 1 MiB), then one small regular file and
// the end marker. A negative count writes headers until w fails.
func headerBomb(w io.Writer, typeflag byte, count int) error {
	var payload []byte
	switch typeflag {
	case 'x':
		payload = paxRecord("comment", 1000<<10)
	case 'L':
		payload = append(bytes.Repeat([]byte("a"), 1000<<10), 0)
	default:
		return fmt.Errorf("unsupported typeflag %q", typeflag)
	}
	block := append(rawHeader("././@Bomb", typeflag, int64(len(payload))), padded(payload)...)
	for i := 0; count < 0 || i < count; i++ {
		if _, err := w.Write(block); err != nil {
			return err
		}
	}
	body := []byte("written\n")
	tail := append(rawHeader("x.txt", '0', int64(len(body))), padded(body)...)
	tail = append(tail, make([]byte, 1024)...)
	_, err := w.Write(tail)
	return err
}

// bombArchive returns a finite header bomb, gzip-compressed unless plain.
func bombArchive(t *testing.T, typeflag byte, count int, plain bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	if plain {
		if err := headerBomb(&buf, typeflag, count); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	gw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err := headerBomb(gw, typeflag, count); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// assertNothingWritten checks that a failed Unpack into the missing
// directory dst left neither dst nor a temporary directory next to it.
func assertNothingWritten(t *testing.T, dst string) {
	t.Helper()
	if _, err := os.Lstat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("destination exists after a refused unpack: %v", err)
	}
	left, err := os.ReadDir(filepath.Dir(dst))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left behind: %s", e.Name())
	}
}

// Chained extended headers are inflated inside the tar reader, before
// Unpack sees an entry: they must count against the caps all the same.
func TestUnpackRefusesExtendedHeaderBombs(t *testing.T) {
	caps := artifact.UnpackOptions{MaxSize: 1 << 20, MaxEntries: 10}
	for _, tc := range []struct {
		name     string
		typeflag byte
		plain    bool
	}{
		{name: "PAX headers", typeflag: 'x'},
		{name: "GNU long names", typeflag: 'L'},
		{name: "PAX headers, uncompressed", typeflag: 'x', plain: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// 6 headers of ~1000 KiB: about 6 MB inflated, against a
			// stream cap of 1 MiB + 10*2 KiB + 2 MiB. Merged by the tar
			// reader, they are one small entry to the entry and size caps.
			data := bombArchive(t, tc.typeflag, 6, tc.plain)
			opts := caps
			opts.Uncompressed = tc.plain
			dst := filepath.Join(t.TempDir(), "out")
			_, err := artifact.Unpack(context.Background(), bytes.NewReader(data), dst, opts)
			if !errors.Is(err, artifact.ErrTooLarge) || !strings.Contains(err.Error(), "decompressed archive is larger than") ||
				!strings.Contains(err.Error(), "headers included") {
				t.Fatalf("err = %v, want ErrTooLarge naming the decompressed-stream cap", err)
			}
			assertNothingWritten(t, dst)
		})
	}
}

// The same bomb under generous caps: what fits is unpacked, proving the
// bomb is well-formed and only the cap refuses it.
func TestUnpackHeaderBombWithinCaps(t *testing.T) {
	data := bombArchive(t, 'x', 2, false)
	dst := filepath.Join(t.TempDir(), "out")
	res, err := artifact.Unpack(context.Background(), bytes.NewReader(data), dst, artifact.UnpackOptions{MaxSize: 1 << 20, MaxEntries: 10})
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	if got := readTree(t, dst); res.Files != 1 || got["x.txt"] != "written\n" {
		t.Errorf("unpacked %d files: %v", res.Files, got)
	}
}

// With the size cap lifted, only ctx bounds an endless chain of headers:
// its deadline must interrupt the tar reader inside one Next call.
func TestUnpackHeaderBombHonoursDeadline(t *testing.T) {
	for _, typeflag := range []byte{'x', 'L'} {
		t.Run(string(typeflag), func(t *testing.T) {
			pr, pw := io.Pipe()
			generated := make(chan struct{})
			go func() {
				defer close(generated)
				gw, _ := gzip.NewWriterLevel(pw, gzip.BestSpeed)
				err := headerBomb(gw, typeflag, -1)
				if err == nil {
					err = gw.Close()
				}
				pw.CloseWithError(err)
			}()
			defer func() {
				pr.Close()
				<-generated
			}()

			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			dst := filepath.Join(t.TempDir(), "out")
			done := make(chan error, 1)
			go func() {
				_, err := artifact.Unpack(ctx, pr, dst, artifact.UnpackOptions{MaxSize: artifact.Unlimited, MaxEntries: artifact.Unlimited})
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(2 * time.Minute):
				// A watchdog, not a timing assertion: stop an Unpack that
				// ignores ctx so the test fails instead of hanging.
				pw.CloseWithError(errors.New("watchdog: Unpack ignored its context"))
				err = <-done
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want context.DeadlineExceeded", err)
			}
			assertNothingWritten(t, dst)
		})
	}
}

// A canceled context stops Unpack before it inflates anything.
func TestUnpackCanceledBeforeFirstRead(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := bombArchive(t, 'x', 1, false)
	dst := filepath.Join(t.TempDir(), "out")
	_, err := artifact.Unpack(ctx, bytes.NewReader(data), dst, artifact.UnpackOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	assertNothingWritten(t, dst)
}
