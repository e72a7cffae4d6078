package artifact_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/google/go-cmp/cmp"
)

func TestUnpackRejectsHostileArchives(t *testing.T) {
	reg := func(name, body string) entry {
		return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name}, body: body}
	}
	tests := []struct {
		name    string
		entries []entry
		opts    artifact.UnpackOptions
		wantErr error
		wantMsg string
	}{
		{name: "parent traversal", entries: []entry{reg("../evil", "x")}, wantErr: artifact.ErrUnsafeEntry, wantMsg: "leaves the target"},
		{name: "nested traversal", entries: []entry{reg("a/../../evil", "x")}, wantErr: artifact.ErrUnsafeEntry, wantMsg: "leaves the target"},
		{name: "absolute", entries: []entry{reg("/etc/evil", "x")}, wantErr: artifact.ErrUnsafeEntry, wantMsg: "absolute"},
		{name: "backslash", entries: []entry{reg(`..\evil`, "x")}, wantErr: artifact.ErrUnsafeEntry, wantMsg: "backslash"},
		{name: "symlink", entries: []entry{{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "l", Linkname: "/etc/passwd"}}}, wantErr: artifact.ErrUnsafeEntry, wantMsg: "is a link"},
		{name: "hard link", entries: []entry{{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "l", Linkname: "/etc/passwd"}}}, wantErr: artifact.ErrUnsafeEntry, wantMsg: "is a link"},
		{name: "char device", entries: []entry{{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev", Devmajor: 1, Devminor: 3}}}, wantErr: artifact.ErrUnsafeEntry, wantMsg: "unsupported type"},
		{name: "fifo", entries: []entry{{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "p"}}}, wantErr: artifact.ErrUnsafeEntry, wantMsg: "unsupported type"},
		{name: "symlink escape through earlier entry", entries: []entry{
			{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "l", Linkname: ".."}},
			reg("l/evil", "x"),
		}, opts: artifact.UnpackOptions{SkipLinks: true}, wantMsg: ""},
		{name: "too large", entries: []entry{reg("a", strings.Repeat("x", 600)), reg("b", strings.Repeat("y", 600))}, opts: artifact.UnpackOptions{MaxSize: 1000}, wantErr: artifact.ErrTooLarge, wantMsg: "larger than 1000"},
		{name: "too many entries", entries: []entry{reg("a", "1"), reg("b", "2"), reg("c", "3")}, opts: artifact.UnpackOptions{MaxEntries: 2}, wantErr: artifact.ErrTooLarge, wantMsg: "more than 2 entries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dst := filepath.Join(parent, "out")
			_, err := artifact.Unpack(context.Background(), bytes.NewReader(buildTarGz(t, tt.entries...)), dst, tt.opts)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("err = %v, want %v containing %q", err, tt.wantErr, tt.wantMsg)
				}
			} else if err != nil {
				t.Fatalf("err = %v", err)
			}
			// Nothing may ever land outside dst.
			if _, err := os.Lstat(filepath.Join(parent, "evil")); !os.IsNotExist(err) {
				t.Fatalf("file written outside the target: %v", err)
			}
		})
	}
}

func TestUnpackConfinedAgainstExistingSymlink(t *testing.T) {
	parent := t.TempDir()
	dst := filepath.Join(parent, "out")
	outside := filepath.Join(parent, "outside")
	for _, d := range []string{dst, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A link left in the target by someone else must not be followed.
	if err := os.Symlink(outside, filepath.Join(dst, "link")); err != nil {
		t.Fatal(err)
	}
	data := buildTarGz(t, entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "link/evil"}, body: "x"})
	_, err := artifact.Unpack(context.Background(), bytes.NewReader(data), dst, artifact.UnpackOptions{})
	if err == nil {
		t.Fatal("unpack through a symlink succeeded")
	}
	if _, err := os.Lstat(filepath.Join(outside, "evil")); !os.IsNotExist(err) {
		t.Fatalf("file written through symlink: %v", err)
	}
	// A file entry replaces a link in place instead of writing through it.
	if err := os.Symlink(filepath.Join(outside, "target"), filepath.Join(dst, "f")); err != nil {
		t.Fatal(err)
	}
	data = buildTarGz(t, entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "f"}, body: "new"})
	if _, err := artifact.Unpack(context.Background(), bytes.NewReader(data), dst, artifact.UnpackOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(outside, "target")); !os.IsNotExist(err) {
		t.Fatalf("wrote through a symlink: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "f")); string(b) != "new" {
		t.Errorf("f = %q", b)
	}
}

func TestUnpackModesAndBadStreams(t *testing.T) {
	dst := t.TempDir()
	data := buildTarGz(t,
		entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755}},
		entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "ro/", Mode: 0o500}},
		entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "ro/run.sh", Mode: 0o4755}, body: "#!/bin/sh\n"},
		entry{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "x"}}},
	)
	res, err := artifact.Unpack(context.Background(), bytes.NewReader(data), dst, artifact.UnpackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(artifact.UnpackResult{Files: 1, Bytes: 10}, res); diff != "" {
		t.Error(diff)
	}
	fi, err := os.Stat(filepath.Join(dst, "ro/run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o755 {
		t.Errorf("file mode = %v, want -rwxr-xr-x (setuid dropped)", fi.Mode())
	}
	di, _ := os.Stat(filepath.Join(dst, "ro"))
	if di.Mode().Perm()&0o700 != 0o700 {
		t.Errorf("dir mode = %v, want owner rwx", di.Mode())
	}

	if _, err := artifact.Unpack(context.Background(), strings.NewReader("not gzip"), t.TempDir(), artifact.UnpackOptions{}); err == nil || !strings.Contains(err.Error(), "not a gzip stream") {
		t.Errorf("plain text: err = %v", err)
	}
	truncated := data[:len(data)/2]
	if _, err := artifact.Unpack(context.Background(), bytes.NewReader(truncated), t.TempDir(), artifact.UnpackOptions{}); err == nil {
		t.Error("truncated archive unpacked without error")
	}
}

// TestUnpackGNUTarArchive unpacks an archive written by GNU tar, with the
// "./" prefixes and directory entries it produces.
func TestUnpackGNUTarArchive(t *testing.T) {
	tarBin := testbin.Tool(t, "tar")
	src := t.TempDir()
	writeTree(t, src, sampleTree)
	if err := os.Symlink("README.md", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "gnu.tar.gz")
	if out, err := exec.Command(tarBin, "-czf", file, "-C", src, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar -czf: %v\n%s", err, out)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dst := t.TempDir()
	if _, err := artifact.Unpack(context.Background(), f, dst, artifact.UnpackOptions{}); !errors.Is(err, artifact.ErrUnsafeEntry) {
		t.Fatalf("archive with symlink: err = %v, want ErrUnsafeEntry", err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	dst = t.TempDir()
	res, err := artifact.Unpack(context.Background(), f, dst, artifact.UnpackOptions{SkipLinks: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sampleTree, readTree(t, dst)); diff != "" || res.Files != len(sampleTree) {
		t.Errorf("unpacked (-want +got):\n%s (files=%d)", diff, res.Files)
	}

	// Our own archive round-trips through Unpack too.
	var buf bytes.Buffer
	if _, err := artifact.Pack(context.Background(), &buf, src, artifact.PackOptions{}); err != nil {
		t.Fatal(err)
	}
	dst = t.TempDir()
	if _, err := artifact.Unpack(context.Background(), &buf, dst, artifact.UnpackOptions{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sampleTree, readTree(t, dst)); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func FuzzUnpack(f *testing.F) {
	f.Add(buildTarGz(f, entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "a/b.yaml"}, body: "k: v\n"}))
	f.Add(buildTarGz(f, entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "d/"}}, entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "d/l", Linkname: "../.."}}))
	f.Add(buildTarGz(f, entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "../x"}, body: "x"}))
	f.Add([]byte("\x1f\x8b\x08\x00garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dst := filepath.Join(parent, "out")
		_, _ = artifact.Unpack(context.Background(), bytes.NewReader(data), dst, artifact.UnpackOptions{MaxSize: 1 << 20, MaxEntries: 1000, SkipLinks: true})
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() != "out" {
				t.Fatalf("unpack wrote %q outside its target", e.Name())
			}
		}
		_ = filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type()&os.ModeSymlink != 0 {
				t.Fatalf("unpack created symlink %s", p)
			}
			return nil
		})
	})
}
