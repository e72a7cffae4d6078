package benchproc

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func ExamplePrintTable() {
	PrintTable(os.Stdout, []Row{
		{Kind: "HelmRelease", N: 1000, Ready: 39 * time.Second, PeakRSSKiB: 200 * 1024, PeakAnonKiB: 90 * 1024, Kubectl: 18 * time.Second, KubectlWhat: "the rendered objects"},
		{Kind: "Kustomization", N: 1000, Ready: 26 * time.Second, PeakRSSKiB: 190 * 1024, Kubectl: 20 * time.Second, KubectlWhat: "the same objects"},
	})
	// Output:
	// N     kind           | all Ready   peak RSS     (anon) |   kubectl /kubectl | Flux v2.9 Flux mem | /Flux t /Flux mem
	// ----------------------------------------------------------------------------------------------------------------------
	// 1000  Kustomization  |       26s  190.0 MiB          - |       20s    1.30x |     4m13s  223 MiB |   0.10x     0.85x
	// 1000  HelmRelease    |       39s  200.0 MiB   90.0 MiB |       18s    2.17x |     4m39s  361 MiB |   0.14x     0.55x
	//
	// peak RSS: maxrss of the controller's own process (kustomize-, helm- or source-controller, each its own executable, as Flux measures each controller);
	// (anon): its sampled peak of anonymous memory (heap, stacks); the rest is file-backed pages of the executable.
	// /kubectl, /Flux t, /Flux mem: ours divided by theirs (below 1 is better for us).
	//
	// kubectl: `kubectl apply --server-side` in the same run, on the same control plane, of:
	//   Kustomization  the same objects
	//   HelmRelease    the rendered objects
}

// Rows appended by several commands are read back in order.
func TestRowsRoundTrip(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rows.jsonl")
	a := Row{Kind: "OCIRepository", N: 100, Ready: 3 * time.Second, PeakRSSKiB: 1, PeakAnonKiB: 2, Kubectl: time.Second, KubectlWhat: "x"}
	b := Row{Kind: "HelmChart", N: 500, Ready: time.Minute}
	if err := AppendRows(file, a); err != nil {
		t.Fatal(err)
	}
	if err := AppendRows(file, b); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ReadRows(bytes.NewReader(data))
	if err != nil || len(rows) != 2 || rows[0] != a || rows[1] != b {
		t.Fatalf("read back %+v, %v; want %+v and %+v", rows, err, a, b)
	}
	if _, err := ReadRows(strings.NewReader("{}\nnot json\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("a malformed line: %v, want an error naming line 2", err)
	}
}
