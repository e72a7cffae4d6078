// Command ocipull compares the OCI source's fetch with `flux pull artifact`
// and with `crane export | tar -x`, on an artifact of 10,000 files and
// 100 MB pushed to the in-process registry (ocitest, plain HTTP on
// loopback), and measures the no-op check (one manifest request when the
// last revision is still current). It prints a table with ratios.
//
// The flux and crane CLIs are taken from the project's bin/ directory
// (`make bench` builds them).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

func main() {
	files := flag.Int("files", 10000, "files in the artifact")
	size := flag.Int("size", 10000, "bytes per file")
	runs := flag.Int("runs", 3, "timed runs of each pull")
	noopRuns := flag.Int("noop-runs", 30, "timed runs of the no-op check")
	keep := flag.Bool("keep", false, "keep the working directory and print its path")
	flag.Parse()
	if err := run(*files, *size, *runs, *noopRuns, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "ocipull:", err)
		os.Exit(1)
	}
}

func run(files, size, runs, noopRuns int, keep bool) error {
	flux, err := testbin.Path("flux")
	if err != nil {
		return err
	}
	crane, err := testbin.Path("crane")
	if err != nil {
		return err
	}
	tarBin, err := testbin.Path("tar")
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "ocipull-bench")
	if err != nil {
		return err
	}
	if keep {
		defer fmt.Println("working directory kept:", work)
	} else {
		defer os.RemoveAll(work)
	}
	srcDir := filepath.Join(work, "src")
	if err := writeTree(srcDir, files, size); err != nil {
		return err
	}

	reg := ocitest.Start()
	defer reg.Close()
	ctx := context.Background()
	client := reg.Client()
	url := reg.URL("bench/app")
	t0 := time.Now()
	pushed, err := client.Push(ctx, url, "v1", srcDir, oci.PushOptions{
		Source:   "https://example.com/bench.git",
		Revision: "main@sha1:0123456789abcdef0123456789abcdef01234567",
	})
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	fmt.Printf("artifact: %d files, %.1f MB of content, layer %.1f MB (tar+gzip), pushed in %s\n",
		pushed.Files, float64(files*size)/1e6, float64(pushed.LayerSize)/1e6, time.Since(t0).Round(time.Millisecond))

	// The artifact is larger than the default caps (100 MiB layer, 100 MiB
	// unpacked with tar headers): raise them, as a user of such artifacts
	// would.
	repo := &oci.Repository{
		URL: url, Ref: oci.Reference{Tag: "v1"}, Client: client,
		MaxLayerSize: 1 << 30,
		Unpack:       artifact.UnpackOptions{MaxSize: 1 << 30},
	}
	ref := strings.TrimPrefix(url, oci.URLPrefix) + ":v1"

	n := 0
	dest := func() string { n++; return filepath.Join(work, fmt.Sprintf("out%d", n)) }
	ours := func() (time.Duration, string, error) {
		d := dest()
		start := time.Now()
		snap, err := repo.Fetch(ctx, d, "")
		el := time.Since(start)
		if err == nil {
			err = checkFiles(d, files)
		}
		os.RemoveAll(d)
		return el, snap.Revision, err
	}
	fluxPull := func() (time.Duration, error) {
		d := dest()
		if err := os.MkdirAll(d, 0o750); err != nil {
			return 0, err
		}
		start := time.Now()
		err := runCmd(work, exec.Command(flux, "pull", "artifact", oci.URLPrefix+ref, "--output", d, "--insecure-registry"))
		el := time.Since(start)
		if err == nil {
			err = checkFiles(d, files)
		}
		os.RemoveAll(d)
		return el, err
	}
	craneExport := func() (time.Duration, error) {
		d := dest()
		if err := os.MkdirAll(d, 0o750); err != nil {
			return 0, err
		}
		start := time.Now()
		err := runCmd(work, exec.Command("/bin/sh", "-c", `"$1" export --insecure "$2" - | "$3" -x -f - -C "$4"`,
			"sh", crane, ref, tarBin, d))
		el := time.Since(start)
		if err == nil {
			err = checkFiles(d, files)
		}
		os.RemoveAll(d)
		return el, err
	}

	// Warm up each path once (page cache, first connections).
	if _, _, err := ours(); err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	if _, err := fluxPull(); err != nil {
		return fmt.Errorf("flux pull artifact: %w", err)
	}
	if _, err := craneExport(); err != nil {
		return fmt.Errorf("crane export: %w", err)
	}

	var tOurs, tFlux, tCrane []time.Duration
	var rev string
	for i := 0; i < runs; i++ {
		d, r, err := ours()
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		tOurs, rev = append(tOurs, d), r
		if d, err = fluxPull(); err != nil {
			return fmt.Errorf("flux pull artifact: %w", err)
		}
		tFlux = append(tFlux, d)
		if d, err = craneExport(); err != nil {
			return fmt.Errorf("crane export: %w", err)
		}
		tCrane = append(tCrane, d)
	}
	var noop []time.Duration
	for i := 0; i < noopRuns; i++ {
		start := time.Now()
		_, err := repo.Fetch(ctx, dest(), rev)
		if !errors.Is(err, source.ErrUnchanged) {
			return fmt.Errorf("no-op check: want ErrUnchanged, got %v", err)
		}
		noop = append(noop, time.Since(start))
	}

	mo, mf, mc, mn := median(tOurs), median(tFlux), median(tCrane), median(noop)
	fmt.Println()
	fmt.Printf("%-44s %12s %12s %10s\n", "measure (median)", "ours", "reference", "ratio")
	fmt.Printf("%-44s %12s %12s %9.2fx\n", "fetch vs flux pull artifact", ms(mo), ms(mf), float64(mo)/float64(mf))
	fmt.Printf("%-44s %12s %12s %9.2fx\n", "fetch vs crane export | tar -x", ms(mo), ms(mc), float64(mo)/float64(mc))
	fmt.Printf("%-44s %12s %12s %9.4fx (%.0fx faster)\n", "no-op check vs fresh fetch (ours)", ms(mn), ms(mo), float64(mn)/float64(mo), float64(mo)/float64(mn))
	fmt.Printf("\nruns: %d pulls each, %d no-op checks; revision %s\n", runs, noopRuns, rev)
	return nil
}

// writeTree writes files files of size bytes each, YAML-like text with
// random values (gzip shrinks it about as much as real manifests), in 100
// directories.
func writeTree(dir string, files, size int) error {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < files; i++ {
		p := filepath.Join(dir, fmt.Sprintf("team%02d", i%100), fmt.Sprintf("cm-%05d.yaml", i))
		if i < 100 {
			if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
				return err
			}
		}
		b := make([]byte, 0, size+64)
		b = fmt.Appendf(b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\ndata:\n", i)
		for k := 0; len(b) < size; k++ {
			b = fmt.Appendf(b, "  key%d: %016x%016x\n", k, rng.Uint64(), rng.Uint64())
		}
		if err := os.WriteFile(p, b[:size], 0o640); err != nil {
			return err
		}
	}
	return nil
}

// runCmd runs a CLI with a HOME of its own under work, so that no Docker
// config of the machine is read.
func runCmd(work string, cmd *exec.Cmd) error {
	home := filepath.Join(work, "home")
	cmd.Env = append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", filepath.Base(cmd.Path), err, out)
	}
	return nil
}

func checkFiles(dir string, want int) error {
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("%s has %d files, want %d", dir, n, want)
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
