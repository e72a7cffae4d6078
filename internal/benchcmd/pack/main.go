// Command pack compares artifact.Pack with `tar -czf` on the same tree in
// the same run: a 10,000-file, ~100 MB tree of mixed sizes (mostly YAML
// manifests, plus some incompressible binary files such as packaged charts
// and images). Each side runs as its own child process, several times; the
// table shows median wall times, their ratio, the peak RSS of our pack
// (from the child's rusage) and whether every run produced the same digest.
// A smaller tree of small manifests covers unpack against `tar -xzf`.
//
// Usage (from the repository root): go run ./internal/benchcmd/pack
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/internal/testbin"
)

const (
	rounds    = 3
	fileCount = 10_000
	// binaryEvery makes one file in binaryEvery a binary one.
	binaryEvery = 20
)

func main() {
	childPack := flag.String("child-pack", "", "internal: pack this directory into -out and print the result as JSON")
	out := flag.String("out", "", "internal: archive written by -child-pack")
	flag.Parse()
	var err error
	if *childPack != "" {
		err = runChild(*childPack, *out)
	} else {
		err = run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pack benchmark:", err)
		os.Exit(1)
	}
}

// childResult is what a child pack reports to the parent.
type childResult struct {
	Digest string
	Size   int64
	Files  int
	Nanos  int64
}

func runChild(dir, out string) error {
	start := time.Now()
	res, err := packFile(dir, out)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(childResult{res.Digest, res.Size, res.Files, int64(time.Since(start))})
}

func packFile(dir, out string) (artifact.PackResult, error) {
	f, err := os.Create(out)
	if err != nil {
		return artifact.PackResult{}, err
	}
	defer f.Close()
	res, err := artifact.Pack(context.Background(), f, dir, artifact.PackOptions{})
	if err != nil {
		return res, err
	}
	return res, f.Close()
}

type measurement struct {
	wall   time.Duration
	maxRSS int64 // bytes
}

func run() error {
	tarBin, err := testbin.Path("tar")
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "gitopskit-bench-pack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	src := filepath.Join(work, "tree")
	files, bytesTotal, err := makeTree(src)
	if err != nil {
		return err
	}
	fmt.Printf("artifact.Pack vs tar -czf: %d files, %.1f MB (%d%% binary files), median of %d runs each, same run\n\n",
		files, float64(bytesTotal)/1e6, 100/binaryEvery, rounds)

	var ours, ref []measurement
	var digests []string
	var oursSize, tarSize int64
	var oursInner []time.Duration
	for i := range rounds {
		// Alternate the order so neither side always runs on a warmer cache.
		steps := []func() error{
			func() error {
				out := filepath.Join(work, fmt.Sprintf("ours-%d.tar.gz", i))
				var stdout bytes.Buffer
				m, err := measure(exec.Command(self, "-child-pack", src, "-out", out), &stdout)
				if err != nil {
					return fmt.Errorf("our pack: %w", err)
				}
				var res childResult
				if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
					return fmt.Errorf("our pack result %q: %w", stdout.String(), err)
				}
				if res.Files != files {
					return fmt.Errorf("our pack wrote %d files, want %d", res.Files, files)
				}
				ours = append(ours, m)
				digests = append(digests, res.Digest)
				oursSize = res.Size
				oursInner = append(oursInner, time.Duration(res.Nanos))
				return os.Remove(out)
			},
			func() error {
				out := filepath.Join(work, fmt.Sprintf("tar-%d.tar.gz", i))
				m, err := measure(exec.Command(tarBin, "-czf", out, "-C", src, "."), nil)
				if err != nil {
					return fmt.Errorf("tar -czf: %w", err)
				}
				ref = append(ref, m)
				fi, err := os.Stat(out)
				if err != nil {
					return err
				}
				tarSize = fi.Size()
				return os.Remove(out)
			},
		}
		if i%2 == 1 {
			slices.Reverse(steps)
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
	}
	// One more archive of ours, checked by GNU tar (and its gzip) for being
	// a standard tar.gz with every file in it.
	check := filepath.Join(work, "check.tar.gz")
	if _, err := packFile(src, check); err != nil {
		return err
	}
	list, err := exec.Command(tarBin, "-tzf", check).Output()
	if err != nil {
		return fmt.Errorf("tar -tzf of our archive: %w", err)
	}
	listedFiles := 0
	for _, l := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		if !strings.HasSuffix(l, "/") {
			listedFiles++
		}
	}
	if listedFiles != files {
		return fmt.Errorf("tar -tzf lists %d files in our archive, want %d", listedFiles, files)
	}

	stable := len(slices.Compact(slices.Clone(digests))) == 1
	oursWall, refWall := median(walls(ours)), median(walls(ref))
	ratio := float64(oursWall) / float64(refWall)
	peak := slices.Max(rss(ours))

	fmt.Printf("%-34s %14s %14s %8s\n", "", "gitopskit", "tar -czf", "ratio")
	fmt.Printf("%-34s %14s %14s %8.2f\n", "wall time, median (process)", round(oursWall), round(refWall), ratio)
	fmt.Printf("%-34s %14s %14s\n", "  runs", joinDur(walls(ours)), joinDur(walls(ref)))
	fmt.Printf("%-34s %14s %14s\n", "  pack call alone, median", round(median(oursInner)), "")
	fmt.Printf("%-34s %14s %14s %8.2f\n", "archive size", mb(oursSize), mb(tarSize), float64(oursSize)/float64(tarSize))
	fmt.Printf("%-34s %14s %14s\n", "peak RSS (max of runs)", mib(peak), "")
	fmt.Printf("%-34s %14v %14s\n", "identical digest on every run", stable, "")
	fmt.Printf("%-34s %14s\n", "  digest", short(digests[0]))
	fmt.Printf("\ntargets: wall ratio <= 1.00 (stretch <= 0.60): %s; peak RSS < 64 MiB: %s; digest stable: %s\n",
		verdict(ratio <= 1.0), verdict(peak < 64<<20), verdict(stable))
	fmt.Println("ratio = gitopskit / tar (below 1 means gitopskit is faster or smaller). Both sides are timed")
	fmt.Println("as child processes from the parent, start-up included; tar runs gzip as its own process.")
	if !stable {
		return errors.New("pack is not reproducible: " + strings.Join(digests, " "))
	}
	fmt.Println()
	return unpackTable(work, tarBin)
}

// measure runs cmd and returns its wall time and peak RSS.
func measure(cmd *exec.Cmd, stdout io.Writer) (measurement, error) {
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return measurement{}, fmt.Errorf("%v: %s", err, stderr.String())
	}
	m := measurement{wall: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.maxRSS = ru.Maxrss << 10 // kilobytes on Linux
	}
	return m, nil
}

// makeTree writes fileCount files under dir: YAML manifests of 0.5-12 KiB
// in nested team/app directories, and one file in binaryEvery a
// pseudo-random (incompressible) binary of 16-160 KiB. The content is
// fixed by the seed, so every run packs the same bytes.
func makeTree(dir string) (files int, total int64, err error) {
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := []string{"Deployment", "Service", "ConfigMap", "Secret", "Ingress", "ServiceAccount", "HelmRelease", "Kustomization"}
	for i := range fileCount {
		sub := filepath.Join(fmt.Sprintf("cluster-%d", i%3), fmt.Sprintf("team-%02d", i%24), fmt.Sprintf("app-%03d", i%211))
		var content []byte
		name := fmt.Sprintf("res-%05d.yaml", i)
		if i%binaryEvery == 7 {
			name = fmt.Sprintf("chart-%05d.tgz.bin", i)
			content = make([]byte, 16<<10+rng.IntN(144<<10))
			for j := 0; j+8 <= len(content); j += 8 {
				v := rng.Uint64()
				for k := range 8 {
					content[j+k] = byte(v >> (8 * k))
				}
			}
		} else {
			content = manifest(rng, kinds[i%len(kinds)], i, 512+rng.IntN(12<<10-512))
		}
		p := filepath.Join(dir, sub, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return 0, 0, err
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			return 0, 0, err
		}
		files++
		total += int64(len(content))
	}
	return files, total, nil
}

// manifest returns a YAML document of about size bytes with varied values.
func manifest(rng *rand.Rand, kind string, i, size int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: %s\nmetadata:\n  name: app-%05d\n  namespace: team-%02d\n  labels:\n    app.kubernetes.io/name: app-%05d\n    app.kubernetes.io/version: v%d.%d.%d\ndata:\n",
		kind, i, i%24, i, rng.IntN(5), rng.IntN(30), rng.IntN(100))
	for n := 0; b.Len() < size; n++ {
		fmt.Fprintf(&b, "  key-%03d: %q\n", n, fmt.Sprintf("%x-%d-replicas-%d-port-%d", rng.Uint32(), n, rng.IntN(9), 8000+rng.IntN(1000)))
	}
	return []byte(b.String())
}

// unpackTable times artifact.Unpack against tar -xzf on one archive of
// small manifests.
func unpackTable(work, tarBin string) error {
	src := filepath.Join(work, "small")
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		p := filepath.Join(src, fmt.Sprintf("team-%02d", i%16), fmt.Sprintf("app-%03d", i%97), fmt.Sprintf("file-%05d.yaml", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, manifest(rng, "ConfigMap", i, 2048), 0o644); err != nil {
			return err
		}
	}
	archive := filepath.Join(work, "small.tar.gz")
	if _, err := packFile(src, archive); err != nil {
		return err
	}
	var ours, ref []time.Duration
	for i := range 5 {
		f, err := os.Open(archive)
		if err != nil {
			return err
		}
		start := time.Now()
		_, err = artifact.Unpack(context.Background(), f, filepath.Join(work, fmt.Sprintf("u-ours-%d", i)), artifact.UnpackOptions{})
		f.Close()
		if err != nil {
			return err
		}
		ours = append(ours, time.Since(start))
		dst := filepath.Join(work, fmt.Sprintf("u-tar-%d", i))
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		m, err := measure(exec.Command(tarBin, "-xzf", archive, "-C", dst), nil)
		if err != nil {
			return fmt.Errorf("tar -xzf: %w", err)
		}
		ref = append(ref, m.wall)
	}
	fmt.Printf("%-34s %14s %14s %8s\n", "unpack 2,000 manifests (median of 5)", "gitopskit", "tar -xzf", "ratio")
	fmt.Printf("%-34s %14s %14s %8.2f\n", "wall time", round(median(ours)), round(median(ref)), float64(median(ours))/float64(median(ref)))
	return nil
}

func walls(ms []measurement) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = m.wall
	}
	return out
}

func rss(ms []measurement) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.maxRSS
	}
	return out
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func joinDur(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%.2f", d.Seconds())
	}
	return strings.Join(parts, "/") + "s"
}

func round(d time.Duration) string { return d.Round(time.Millisecond).String() }

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func short(d string) string {
	if len(d) > 23 {
		return d[:23] + "..."
	}
	return d
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}
