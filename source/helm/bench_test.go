package helm_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/source/helm"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
)

// writeIndex writes the benchmarks' generated index to a file, for the
// comparison with Helm's own loader (tools/helm/indexmem).
var writeIndex = flag.String("helm.write-index", "", "write the 20 MB benchmark index to this file")

// benchIndex is the Bitnami-sized index of the benchmarks.
func benchIndex(b *testing.B) []byte {
	b.Helper()
	data := helmtest.GenerateIndex(170, 100)
	if *writeIndex != "" {
		if err := os.WriteFile(*writeIndex, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return data
}

// retained reports the heap a parsed index holds.
func retained(b *testing.B, data []byte) {
	b.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	ix, err := helm.ParseIndex(data)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(ix)
	runtime.KeepAlive(data)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "retained-MiB")
}

// BenchmarkParseIndex parses a 20 MB index: allocations while parsing
// and the heap the parsed index keeps.
func BenchmarkParseIndex(b *testing.B) {
	data := benchIndex(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := helm.ParseIndex(data); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	retained(b, data)
}

// BenchmarkIndexFetchAndGet downloads a 20 MB index from a local server,
// parses it and looks a chart up: the side of "helm repo add && helm
// search repo" (BenchmarkHelmCLIRepoAddSearch).
func BenchmarkIndexFetchAndGet(b *testing.B) {
	srv := helmtest.Start()
	defer srv.Close()
	srv.SetIndex(benchIndex(b))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ix, err := srv.Repository().Index(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if cv, err := ix.Get("chart-100", ""); err != nil || cv.Version != "4.3.4" {
			b.Fatalf("%v %v", cv, err)
		}
	}
}

func helmBench(b *testing.B, home, dir string, args ...string) {
	b.Helper()
	cmd := exec.Command(testbin.Tool(b, "helm"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"), "HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("helm %v: %v\n%s", args, err, out)
	}
}

// BenchmarkHelmCLIRepoAddSearch is "helm repo add && helm search repo" of
// the same index and chart as BenchmarkIndexFetchAndGet.
func BenchmarkHelmCLIRepoAddSearch(b *testing.B) {
	srv := helmtest.Start()
	defer srv.Close()
	srv.SetIndex(benchIndex(b))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		home := b.TempDir()
		helmBench(b, home, home, "repo", "add", "bench", srv.URL)
		helmBench(b, home, home, "search", "repo", "bench/chart-100")
	}
}

// fiveDeps is a chart directory with five dependencies from an HTTP
// repository, and that repository.
func fiveDeps(b *testing.B) (string, *helmtest.Server) {
	b.Helper()
	srv := helmtest.Start()
	deps := ""
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("dep%d", i)
		files := map[string]string{"Chart.yaml": "apiVersion: v2\nname: " + name + "\nversion: 1.0.0\n", "values.yaml": "a: 1\n"}
		for j := 0; j < 20; j++ {
			files[fmt.Sprintf("templates/t%02d.yaml", j)] = fmt.Sprintf("kind: ConfigMap\nmetadata:\n  name: t%d-{{ .Release.Name }}\ndata:\n  k: %q\n", j, make([]byte, 512))
		}
		if _, err := srv.AddChart(files); err != nil {
			b.Fatal(err)
		}
		deps += "- name: " + name + "\n  version: \"1.x\"\n  repository: " + srv.URL + "\n"
	}
	root := b.TempDir()
	p := filepath.Join(root, "app")
	if err := os.MkdirAll(filepath.Join(p, "templates"), 0o755); err != nil {
		b.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(p, "Chart.yaml"), []byte("apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n"+deps), 0o644)
	_ = os.WriteFile(filepath.Join(p, "values.yaml"), []byte("a: 1\n"), 0o644)
	_ = os.WriteFile(filepath.Join(p, "templates", "cm.yaml"), []byte("kind: ConfigMap\n"), 0o644)
	return root, srv
}

// BenchmarkBuildFiveDependencies builds a chart with five dependencies
// from an HTTP repository.
func BenchmarkBuildFiveDependencies(b *testing.B) {
	root, srv := fiveDeps(b)
	defer srv.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bld := &helm.Build{Root: root, Path: "app"}
		if _, err := bld.Run(context.Background(), b.TempDir()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHelmCLIDependencyBuildPackage is "helm dependency build &&
// helm package" of the same chart as BenchmarkBuildFiveDependencies.
func BenchmarkHelmCLIDependencyBuildPackage(b *testing.B) {
	root, srv := fiveDeps(b)
	defer srv.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		home := b.TempDir()
		work := b.TempDir()
		copyTreeB(b, root, work)
		b.StartTimer()
		helmBench(b, home, work, "dependency", "build", "app")
		helmBench(b, home, work, "package", "app", "-d", "out")
	}
}

func copyTreeB(b *testing.B, src, dst string) {
	b.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkHelmIndexLoader loads the index of BenchmarkParseIndex with
// Helm's own loader (tools/helm/indexmem, run with go run in its module)
// and reports its load time, allocations and retained heap.
func BenchmarkHelmIndexLoader(b *testing.B) {
	bin, err := testbin.Dir()
	if err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(b.TempDir(), "index.yaml")
	if err := os.WriteFile(file, benchIndex(b), 0o644); err != nil {
		b.Fatal(err)
	}
	var out []byte
	for i := 0; i < b.N; i++ {
		cmd := exec.Command("go", "run", "./indexmem", file)
		cmd.Dir = filepath.Join(filepath.Dir(bin), "tools", "helm")
		if out, err = cmd.Output(); err != nil {
			b.Fatalf("go run ./indexmem: %v", err)
		}
	}
	f := strings.Fields(string(out))
	for i := 4; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i+1], 64)
		if err != nil {
			b.Fatalf("indexmem printed %q", out)
		}
		b.ReportMetric(v, f[i])
	}
}
