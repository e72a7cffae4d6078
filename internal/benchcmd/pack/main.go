// Command pack compares artifact.Pack and artifact.Unpack with GNU tar and
// gzip doing the same job (a reproducible tar.gz of a manifest tree, and its
// extraction), measured in the same run, and prints a table with ratios.
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/internal/testbin"
)

const rounds = 5

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pack benchmark:", err)
		os.Exit(1)
	}
}

type shape struct {
	name  string
	files int
	size  int
}

func run() error {
	tarBin, err := testbin.Path("tar")
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "gitopskit-bench-pack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	shapes := []shape{
		{"2000 small manifests", 2000, 2 << 10},
		{"200 files of 64 KiB", 200, 64 << 10},
	}
	fmt.Printf("artifact pack/unpack vs GNU tar+gzip (median of %d rounds, same machine, same run)\n\n", rounds)
	fmt.Printf("%-22s %-8s %12s %12s %8s\n", "tree", "op", "gitopskit", "tar+gzip", "ratio")
	for _, sh := range shapes {
		src := filepath.Join(work, "src-"+fmt.Sprint(sh.files))
		if err := makeTree(src, sh); err != nil {
			return err
		}
		var oursPack, tarPack, oursUnpack, tarUnpack []time.Duration
		var oursSize, tarSize int64
		var digests []string
		for i := range rounds {
			oursFile := filepath.Join(work, fmt.Sprintf("ours-%d.tar.gz", i))
			tarFile := filepath.Join(work, fmt.Sprintf("tar-%d.tar.gz", i))

			d, res, err := timePack(src, oursFile)
			if err != nil {
				return err
			}
			oursPack, oursSize = append(oursPack, d), res.Size
			digests = append(digests, res.Digest)

			start := time.Now()
			cmd := exec.Command(tarBin, "--sort=name", "--owner=0", "--group=0", "--numeric-owner",
				"--mtime=@0", "-czf", tarFile, "-C", src, ".")
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("tar -czf: %v: %s", err, out)
			}
			tarPack = append(tarPack, time.Since(start))
			fi, err := os.Stat(tarFile)
			if err != nil {
				return err
			}
			tarSize = fi.Size()

			// Each tool unpacks the same archive (ours), so only the
			// extraction differs.
			dOurs, err := timeUnpack(oursFile, filepath.Join(work, fmt.Sprintf("u-ours-%d", i)))
			if err != nil {
				return err
			}
			oursUnpack = append(oursUnpack, dOurs)
			dst := filepath.Join(work, fmt.Sprintf("u-tar-%d", i))
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			start = time.Now()
			if out, err := exec.Command(tarBin, "-xzf", oursFile, "-C", dst).CombinedOutput(); err != nil {
				return fmt.Errorf("tar -xzf: %v: %s", err, out)
			}
			tarUnpack = append(tarUnpack, time.Since(start))
		}
		if len(slices.Compact(slices.Clone(digests))) != 1 {
			return fmt.Errorf("pack is not reproducible: %v", digests)
		}
		row(sh.name, "pack", median(oursPack), median(tarPack))
		row("", "unpack", median(oursUnpack), median(tarUnpack))
		fmt.Printf("%-22s %-8s %12s %12s %8.2f\n", "", "size", kib(oursSize), kib(tarSize), float64(oursSize)/float64(tarSize))
	}
	fmt.Println("\nratio = gitopskit / tar+gzip (below 1 means gitopskit is faster or smaller).")
	fmt.Println("tar runs as a child process, so its figures include process start-up.")
	return nil
}

func timePack(src, file string) (time.Duration, artifact.PackResult, error) {
	f, err := os.Create(file)
	if err != nil {
		return 0, artifact.PackResult{}, err
	}
	defer f.Close()
	start := time.Now()
	res, err := artifact.Pack(context.Background(), f, src, artifact.PackOptions{})
	if err != nil {
		return 0, res, err
	}
	if err := f.Close(); err != nil {
		return 0, res, err
	}
	return time.Since(start), res, nil
}

func timeUnpack(file, dst string) (time.Duration, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	start := time.Now()
	if _, err := artifact.Unpack(context.Background(), f, dst, artifact.UnpackOptions{MaxSize: -1}); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func makeTree(dir string, sh shape) error {
	line := "  image: ghcr.io/example/app:v1.2.3 # replicas: 3, port: 8080\n"
	body := bytes.Repeat([]byte(line), sh.size/len(line)+1)[:sh.size]
	for i := range sh.files {
		p := filepath.Join(dir, fmt.Sprintf("team-%02d", i%16), fmt.Sprintf("app-%03d", i%97), fmt.Sprintf("file-%05d.yaml", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		content := append([]byte(fmt.Sprintf("# file %d\n", i)), body...)
		if err := os.WriteFile(p, content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func row(tree, op string, ours, ref time.Duration) {
	fmt.Printf("%-22s %-8s %12s %12s %8.2f\n", tree, op, ours.Round(100*time.Microsecond), ref.Round(100*time.Microsecond), float64(ours)/float64(ref))
}

func kib(n int64) string { return strings.TrimSpace(fmt.Sprintf("%8.1f KiB", float64(n)/1024)) }
