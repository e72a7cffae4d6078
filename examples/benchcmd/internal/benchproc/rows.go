package benchproc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"
)

// Row is one measured line of the fleet table: one kind at one count.
type Row struct {
	// Kind is the Flux kind measured (Kustomization, HelmRelease,
	// OCIRepository, HelmChart).
	Kind string `json:"kind"`
	// N is the number of objects of Kind.
	N int `json:"n"`
	// Ready is the time from creating the N objects until all are Ready.
	Ready time.Duration `json:"ready"`
	// PeakRSSKiB is the peak resident set of the process running the
	// controllers, in KiB.
	PeakRSSKiB int64 `json:"peakRSSKiB"`
	// PeakAnonKiB is the peak of its anonymous part (heap, stacks), in
	// KiB, sampled; the rest of the resident set is mostly the pages of
	// the executable itself.
	PeakAnonKiB int64 `json:"peakAnonKiB,omitempty"`
	// Kubectl is the time of `kubectl apply --server-side` of the
	// comparable objects (see KubectlWhat), measured in the same run.
	Kubectl time.Duration `json:"kubectl,omitempty"`
	// KubectlWhat says what the kubectl reference applied.
	KubectlWhat string `json:"kubectlWhat,omitempty"`
}

// Published is one row of Flux's published MTTP benchmark.
type Published struct {
	Ready     time.Duration
	MaxMemMiB int
}

// FluxV29 returns Flux v2.9.0's published MTTP benchmark (fluxcd/flux-benchmark,
// RESULTS.md: GitHub-hosted 16-core runner, kind cluster, source-controller
// at concurrency 10, kustomize-controller at 20, helm-controller at 10),
// by kind and count.
func FluxV29() map[string]map[int]Published {
	return map[string]map[int]Published{
		"OCIRepository": {100: {26 * time.Second, 49}, 500: {2 * time.Minute, 98}, 1000: {4*time.Minute + 17*time.Second, 128}},
		"Kustomization": {100: {26 * time.Second, 134}, 500: {2 * time.Minute, 183}, 1000: {4*time.Minute + 13*time.Second, 223}},
		"HelmChart":     {100: {36 * time.Second, 63}, 500: {2*time.Minute + 33*time.Second, 123}, 1000: {5*time.Minute + 10*time.Second, 189}},
		"HelmRelease":   {100: {26 * time.Second, 286}, 500: {2*time.Minute + 14*time.Second, 306}, 1000: {4*time.Minute + 39*time.Second, 361}},
	}
}

// kindOrder is the position of kind in Flux's table.
func kindOrder(kind string) int {
	switch kind {
	case "OCIRepository":
		return 0
	case "Kustomization":
		return 1
	case "HelmChart":
		return 2
	case "HelmRelease":
		return 3
	}
	return 4
}

// AppendRows appends rows to the JSON-lines file at path (created if
// missing); an empty path does nothing.
func AppendRows(path string, rows ...Row) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// ReadRows reads the rows of a JSON-lines file written by AppendRows.
func ReadRows(r io.Reader) ([]Row, error) {
	var rows []Row
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var row Row
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		rows = append(rows, row)
	}
	return rows, sc.Err()
}

// PrintTable writes the fleet table: per kind and count, our time to all
// Ready and peak RSS, the kubectl reference of the same run and our ratio
// to it, and Flux v2.9's published row with our ratios to it.
func PrintTable(w io.Writer, rows []Row) {
	rows = append([]Row(nil), rows...)
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].N != rows[j].N {
			return rows[i].N < rows[j].N
		}
		return kindOrder(rows[i].Kind) < kindOrder(rows[j].Kind)
	})
	fmt.Fprintf(w, "%-5s %-14s | %9s %10s %10s | %9s %8s | %9s %8s | %7s %9s\n",
		"N", "kind", "all Ready", "peak RSS", "(anon)", "kubectl", "/kubectl", "Flux v2.9", "Flux mem", "/Flux t", "/Flux mem")
	fmt.Fprintln(w, strings.Repeat("-", 118))
	published := FluxV29()
	for _, r := range rows {
		mib := float64(r.PeakRSSKiB) / 1024
		kubectl, ratio := "-", "-"
		if r.Kubectl > 0 {
			kubectl = round(r.Kubectl).String()
			ratio = fmt.Sprintf("%.2fx", r.Ready.Seconds()/r.Kubectl.Seconds())
		}
		flux, fluxMem, ft, fm := "-", "-", "-", "-"
		if p, ok := published[r.Kind][r.N]; ok {
			flux, fluxMem = p.Ready.String(), fmt.Sprintf("%d MiB", p.MaxMemMiB)
			ft = fmt.Sprintf("%.2fx", r.Ready.Seconds()/p.Ready.Seconds())
			fm = fmt.Sprintf("%.2fx", mib/float64(p.MaxMemMiB))
		}
		anon := "-"
		if r.PeakAnonKiB > 0 {
			anon = fmt.Sprintf("%.1f MiB", float64(r.PeakAnonKiB)/1024)
		}
		fmt.Fprintf(w, "%-5d %-14s | %9s %6.1f MiB %10s | %9s %8s | %9s %8s | %7s %9s\n",
			r.N, r.Kind, round(r.Ready), mib, anon, kubectl, ratio, flux, fluxMem, ft, fm)
	}
	seen := map[string]string{}
	var kinds []string
	for _, r := range rows {
		if _, ok := seen[r.Kind]; !ok && r.KubectlWhat != "" {
			seen[r.Kind] = r.KubectlWhat
			kinds = append(kinds, r.Kind)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "peak RSS: maxrss of the controller's own process (kustomize-, helm- or source-controller, each its own executable, as Flux measures each controller);")
	fmt.Fprintln(w, "(anon): its sampled peak of anonymous memory (heap, stacks); the rest is file-backed pages of the executable.")
	fmt.Fprintln(w, "/kubectl, /Flux t, /Flux mem: ours divided by theirs (below 1 is better for us).")
	if len(kinds) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "kubectl: `kubectl apply --server-side` in the same run, on the same control plane, of:")
		for _, k := range kinds {
			fmt.Fprintf(w, "  %-14s %s\n", k, seen[k])
		}
	}
}

func round(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }

// KubectlApply times `kubectl apply --server-side -f file` with the
// kubectl at path against the cluster of kubeconfig.
func KubectlApply(kubectl, kubeconfig, file string) (time.Duration, error) {
	start := time.Now()
	cmd := exec.Command(kubectl, "--kubeconfig", kubeconfig, "apply", "--server-side", "-f", file)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if len(out) > 2000 {
			out = out[len(out)-2000:]
		}
		return 0, errors.Join(fmt.Errorf("kubectl apply --server-side -f %s: %w", file, err), errors.New(string(out)))
	}
	return time.Since(start), nil
}
