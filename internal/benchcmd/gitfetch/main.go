// Command gitfetch compares the Git source's fetch with `git clone --depth 1`
// over smart HTTP (the real git http-backend), on a repository of 5,000
// files and 200 commits, and measures the no-op check (an ls-remote when
// the last revision is still current). It prints a table with ratios.
package main

import (
	"bufio"
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

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/git"
	"github.com/gitopskit/gitopskit/source/git/gittest"
)

func main() {
	files := flag.Int("files", 5000, "files in the repository")
	commits := flag.Int("commits", 200, "commits in the repository")
	runs := flag.Int("runs", 5, "timed runs of each fetch")
	noopRuns := flag.Int("noop-runs", 30, "timed runs of the no-op check")
	keep := flag.Bool("keep", false, "keep the working directory (repository and checkouts) and print its path")
	flag.Parse()
	if err := run(*files, *commits, *runs, *noopRuns, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "gitfetch:", err)
		os.Exit(1)
	}
}

func run(files, commits, runs, noopRuns int, keep bool) error {
	work, err := os.MkdirTemp("", "gitfetch-bench")
	if err != nil {
		return err
	}
	if keep {
		defer fmt.Println("working directory kept:", work)
	} else {
		defer os.RemoveAll(work)
	}
	root := filepath.Join(work, "srv")
	repoDir := filepath.Join(root, "bench.git")
	t0 := time.Now()
	if err := buildRepo(repoDir, files, commits); err != nil {
		return fmt.Errorf("building the repository: %w", err)
	}
	fmt.Printf("repository: %d files, %d commits, built in %s\n", files, commits, time.Since(t0).Round(time.Millisecond))

	srv, err := gittest.StartHTTPServer(root)
	if err != nil {
		return err
	}
	defer srv.Close()
	url := srv.URL + "/bench.git"
	ctx := context.Background()
	src := &git.Repository{URL: url, Ref: git.Reference{Branch: "main"}}

	n := 0
	dest := func() string { n++; return filepath.Join(work, fmt.Sprintf("out%d", n)) }

	// Warm up both paths once (page cache, server side pack).
	if _, err := src.Fetch(ctx, dest(), ""); err != nil {
		return err
	}
	if err := gitClone(url, dest()); err != nil {
		return err
	}

	var ours, cli []time.Duration
	var rev string
	for i := 0; i < runs; i++ {
		d := dest()
		start := time.Now()
		snap, err := src.Fetch(ctx, d, "")
		if err != nil {
			return err
		}
		ours = append(ours, time.Since(start))
		rev = snap.Revision
		if err := checkFiles(d, files); err != nil {
			return err
		}
		os.RemoveAll(d)

		d = dest()
		start = time.Now()
		if err := gitClone(url, d); err != nil {
			return err
		}
		cli = append(cli, time.Since(start))
		os.RemoveAll(d)
	}
	var noop []time.Duration
	for i := 0; i < noopRuns; i++ {
		start := time.Now()
		_, err := src.Fetch(ctx, dest(), rev)
		if !errors.Is(err, source.ErrUnchanged) {
			return fmt.Errorf("no-op check: want ErrUnchanged, got %v", err)
		}
		noop = append(noop, time.Since(start))
	}
	mo, mc, mn := median(ours), median(cli), median(noop)
	fmt.Println()
	fmt.Printf("%-40s %12s %12s %10s %s\n", "measure (median)", "ours", "reference", "ratio", "target")
	fmt.Printf("%-40s %12s %12s %9.2fx %s\n", "fetch vs git clone --depth 1", ms(mo), ms(mc), float64(mo)/float64(mc), "<= 1.5x")
	fmt.Printf("%-40s %12s %12s %9.3fx %s\n", "no-op check vs fresh fetch (ours)", ms(mn), ms(mo), float64(mn)/float64(mo), "<= 0.05x (>= 20x faster)")
	fmt.Printf("%-40s %12s %12s %10s %s\n", "no-op check absolute", ms(mn), "-", "-", "< 50 ms")
	fmt.Printf("\nruns: %d fetches each, %d no-op checks; revision %s\n", runs, noopRuns, rev)
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func gitClone(url, dir string) error {
	cmd := exec.Command("git", "clone", "-q", "--depth", "1", "--branch", "main", url, dir)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git clone: %v: %s", err, out)
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
		return fmt.Errorf("checkout has %d files, want %d", n, want)
	}
	return nil
}

// buildRepo writes a bare repository with git fast-import: the first commit
// adds every file, each later one rewrites 25 of them.
func buildRepo(dir string, files, commits int) error {
	if out, err := exec.Command("git", "init", "-q", "--bare", "-b", "main", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("git init: %v: %s", err, out)
	}
	cmd := exec.Command("git", "-C", dir, "fast-import", "--quiet")
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdin, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	content := func(i, gen int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\ndata:\n  generation: \"%d\"\n", i, gen)
		for k := 0; k < 20+rng.IntN(40); k++ {
			fmt.Fprintf(&b, "  key%d: %x\n", k, rng.Uint64())
		}
		return b.String()
	}
	path := func(i int) string { return fmt.Sprintf("apps/team%02d/svc%03d/cm-%d.yaml", i%50, (i/50)%100, i) }
	when := int64(1700000000)
	for c := 0; c < commits; c++ {
		fmt.Fprintf(w, "commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\n", when+int64(c)*60)
		msg := fmt.Sprintf("commit %d\n", c)
		fmt.Fprintf(w, "data %d\n%s\n", len(msg), msg)
		var touched []int
		if c == 0 {
			for i := 0; i < files; i++ {
				touched = append(touched, i)
			}
		} else {
			for k := 0; k < 25; k++ {
				touched = append(touched, rng.IntN(files))
			}
		}
		for _, i := range touched {
			data := content(i, c)
			fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n%s\n", path(i), len(data), data)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git fast-import: %v: %s", err, stderr.String())
	}
	return nil
}
