// Command indexmem loads a chart repository index with Helm's own loader
// and prints the time it took and the heap the loaded index keeps, the
// reference for source/helm's BenchmarkParseIndex (whose
// -helm.write-index flag writes the same index to a file).
//
//	go run ./indexmem <index.yaml>
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"helm.sh/helm/v4/pkg/repo/v1"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: indexmem <index.yaml>")
		os.Exit(2)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	ix, err := repo.LoadIndexFile(os.Args[1])
	took := time.Since(start)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	n := 0
	for _, vs := range ix.Entries {
		n += len(vs)
	}
	runtime.KeepAlive(ix)
	fmt.Printf("charts %d versions %d load-ms %d allocated-MiB %.1f retained-MiB %.1f\n",
		len(ix.Entries), n, took.Milliseconds(), float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20))
}
