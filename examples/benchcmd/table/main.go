// Command table prints the fleet scale table from the rows the scale
// commands append to a file (their -rows flag): per kind and count, the
// time until all objects are Ready and the controllers' peak RSS, next to
// `kubectl apply --server-side` of comparable objects measured in the same
// run and to Flux v2.9's published MTTP benchmark.
//
// Usage: go run ./examples/benchcmd/table ROWS.jsonl
package main

import (
	"fmt"
	"os"

	"github.com/gitopskit/gitopskit/examples/benchcmd/internal/benchproc"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: table ROWS.jsonl")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
	defer f.Close()
	rows, err := benchproc.ReadRows(f)
	if err != nil {
		fmt.Fprintf(os.Stderr, "table: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	fmt.Println()
	fmt.Println("Fleet scale: time from creating N objects until all are Ready, peak RSS of the measured controller's process")
	fmt.Println("(ours: 2 shared cores, local etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on the same machine;")
	fmt.Println(" Flux v2.9: published, not measured here: 16-core runner, kind cluster, one process per controller)")
	fmt.Println()
	benchproc.PrintTable(os.Stdout, rows)
}
