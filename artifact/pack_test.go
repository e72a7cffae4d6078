package artifact_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/google/go-cmp/cmp"
)

var sampleTree = map[string]string{
	"kustomization.yaml":       "resources:\n- apps/deploy.yaml\n",
	"apps/deploy.yaml":         "kind: Deployment\n",
	"apps/nested/deep/cm.yaml": "kind: ConfigMap\n",
	"README.md":                "# readme\n",
	"empty.txt":                "",
	strings.Repeat("long-name-", 12) + "/file.yaml": "long path\n",
}

func packDir(t *testing.T, dir string, opts artifact.PackOptions) ([]byte, artifact.PackResult) {
	t.Helper()
	var buf bytes.Buffer
	res, err := artifact.Pack(context.Background(), &buf, dir, opts)
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	return buf.Bytes(), res
}

func TestPackIsReproducible(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	writeTree(t, a, sampleTree)
	// Same content written in another order, with other times and modes
	// that differ only outside the executable bit.
	keys := make([]string, 0, len(sampleTree))
	for k := range sampleTree {
		keys = append(keys, k)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(keys)))
	for _, k := range keys {
		writeTree(t, b, map[string]string{k: sampleTree[k]})
		p := filepath.Join(b, filepath.FromSlash(k))
		old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o664); err != nil {
			t.Fatal(err)
		}
	}
	ba, ra := packDir(t, a, artifact.PackOptions{})
	bb, rb := packDir(t, b, artifact.PackOptions{})
	if ra.Digest != rb.Digest || !bytes.Equal(ba, bb) {
		t.Fatalf("digests differ: %s vs %s", ra.Digest, rb.Digest)
	}
	if ra.Files != len(sampleTree) || ra.Size != int64(len(ba)) {
		t.Errorf("result = %+v, archive %d bytes, want %d files", ra, len(ba), len(sampleTree))
	}
	d, err := artifact.DigestOf(bytes.NewReader(ba), "sha256")
	if err != nil || d != ra.Digest {
		t.Errorf("digest of bytes = %s, result says %s", d, ra.Digest)
	}
	// Changing content or the executable bit changes the digest.
	if err := os.Chmod(filepath.Join(b, "README.md"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, rc := packDir(t, b, artifact.PackOptions{}); rc.Digest == ra.Digest {
		t.Error("executable bit did not change the digest")
	}
}

// TestPackReadByGNUTar checks the archive against GNU tar: listing (names,
// modes, owners, times) and extraction.
func TestPackReadByGNUTar(t *testing.T) {
	tarBin := testbin.Tool(t, "tar")
	src := t.TempDir()
	writeTree(t, src, sampleTree)
	if err := os.Chmod(filepath.Join(src, "apps/deploy.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("kustomization.yaml", filepath.Join(src, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	data, _ := packDir(t, src, artifact.PackOptions{})
	file := filepath.Join(t.TempDir(), "a.tar.gz")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command(tarBin, "--numeric-owner", "--full-time", "-tvzf", file).CombinedOutput()
	if err != nil {
		t.Fatalf("tar -tvzf: %v\n%s", err, out)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		// perms owner/group size date time name
		got = append(got, f[0]+" "+f[1]+" "+f[3]+" "+f[5])
	}
	long := strings.Repeat("long-name-", 12)
	want := []string{
		"-rw------- 0/0 1970-01-01 README.md",
		"drwxr-x--- 0/0 1970-01-01 apps/",
		"-rwx------ 0/0 1970-01-01 apps/deploy.yaml",
		"drwxr-x--- 0/0 1970-01-01 apps/nested/",
		"drwxr-x--- 0/0 1970-01-01 apps/nested/deep/",
		"-rw------- 0/0 1970-01-01 apps/nested/deep/cm.yaml",
		"-rw------- 0/0 1970-01-01 empty.txt",
		"-rw------- 0/0 1970-01-01 kustomization.yaml",
		"drwxr-x--- 0/0 1970-01-01 " + long + "/",
		"-rw------- 0/0 1970-01-01 " + long + "/file.yaml",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tar listing (-want +got):\n%s", diff)
	}

	dst := t.TempDir()
	if out, err := exec.Command(tarBin, "-xzf", file, "-C", dst).CombinedOutput(); err != nil {
		t.Fatalf("tar -xzf: %v\n%s", err, out)
	}
	if diff := cmp.Diff(sampleTree, readTree(t, dst)); diff != "" {
		t.Errorf("extracted by tar (-want +got):\n%s", diff)
	}
}

func TestPackFilterAndOptions(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]string{
		"keep.yaml":       "a",
		".git/config":     "x",
		"logo.png":        "png",
		"sub/keep.yaml":   "b",
		"sub/.sops.yaml":  "c",
		".github/ci.yaml": "d",
	})
	filter, err := artifact.NewIgnoreFilter(src, "")
	if err != nil {
		t.Fatal(err)
	}
	data, res := packDir(t, src, artifact.PackOptions{Filter: filter, Level: 9})
	dst := t.TempDir()
	if _, err := artifact.Unpack(context.Background(), bytes.NewReader(data), dst, artifact.UnpackOptions{}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"keep.yaml": "a", "sub/keep.yaml": "b"}
	if diff := cmp.Diff(want, readTree(t, dst)); diff != "" || res.Files != 2 {
		t.Errorf("packed files (-want +got):\n%s (files=%d)", diff, res.Files)
	}
	if _, err := os.Stat(filepath.Join(dst, ".git")); !os.IsNotExist(err) {
		t.Errorf(".git directory was packed: %v", err)
	}

	for _, lvl := range []int{-1, 10} {
		if _, err := artifact.Pack(context.Background(), &bytes.Buffer{}, src, artifact.PackOptions{Level: lvl}); err == nil || !strings.Contains(err.Error(), "level") {
			t.Errorf("level %d: err = %v", lvl, err)
		}
	}
	if _, err := artifact.Pack(context.Background(), &bytes.Buffer{}, filepath.Join(src, "keep.yaml"), artifact.PackOptions{}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file as dir: err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := artifact.Pack(ctx, &bytes.Buffer{}, src, artifact.PackOptions{}); err != context.Canceled {
		t.Errorf("canceled: err = %v", err)
	}
}

type failingWriter struct{ after int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after -= len(p); f.after < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestPackReportsWriterErrors(t *testing.T) {
	src := t.TempDir()
	big := map[string]string{}
	for i := range 50 {
		// Incompressible content so the gzip output is large.
		big[fmt.Sprintf("f%02d.bin", i)] = string(randomBytes(i, 32<<10))
	}
	writeTree(t, src, big)
	for _, after := range []int{0, 100, 300 << 10} {
		_, err := artifact.Pack(context.Background(), &failingWriter{after: after}, src, artifact.PackOptions{})
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("writer failing after %d bytes: err = %v", after, err)
		}
	}
}

func randomBytes(seed, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed*2654435761 + 1)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// TestPackParallelCompressionIsReproducible packs a tree spanning many
// compression blocks with one and with several CPUs: the bytes must not
// depend on how the blocks were scheduled, and the result must be one
// standard gzip member that unpacks to the same tree.
func TestPackParallelCompressionIsReproducible(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{}
	for i := range 40 {
		files[fmt.Sprintf("bin/f%02d.bin", i)] = string(randomBytes(i, 100<<10))
		files[fmt.Sprintf("yaml/m%02d.yaml", i)] = strings.Repeat(fmt.Sprintf("key-%d: value\n", i), 5000)
	}
	writeTree(t, src, files)
	var archives [][]byte
	var digests []string
	for _, procs := range []int{1, 4, 2} {
		prev := runtime.GOMAXPROCS(procs)
		data, res := packDir(t, src, artifact.PackOptions{})
		runtime.GOMAXPROCS(prev)
		archives = append(archives, data)
		digests = append(digests, res.Digest)
	}
	if len(archives[0]) < 3<<20 {
		t.Fatalf("archive is %d bytes, want several compression blocks", len(archives[0]))
	}
	for i := range archives[1:] {
		if !bytes.Equal(archives[0], archives[i+1]) {
			t.Errorf("archives differ with GOMAXPROCS: digests %v", digests)
		}
	}
	zr, err := gzip.NewReader(bytes.NewReader(archives[0]))
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false)
	if _, err := io.Copy(io.Discard, zr); err != nil {
		t.Fatalf("reading the gzip member: %v", err)
	}
	if zr.Header.ModTime.Unix() > 0 || zr.Header.Name != "" {
		t.Errorf("gzip header carries a time or name: %+v", zr.Header)
	}
	rest, _ := io.ReadAll(zr)
	if len(rest) != 0 {
		t.Errorf("%d bytes after the first gzip member", len(rest))
	}
	dst := filepath.Join(t.TempDir(), "out")
	if _, err := artifact.Unpack(context.Background(), bytes.NewReader(archives[0]), dst, artifact.UnpackOptions{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(files, readTree(t, dst)); diff != "" {
		t.Errorf("unpacked tree (-want +got):\n%s", diff)
	}
}
