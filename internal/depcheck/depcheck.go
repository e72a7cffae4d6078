package depcheck

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Graph maps each package of a build to the packages it imports.
type Graph map[string][]string

// Load runs `go list -deps` with the go command at goCmd in dir and
// returns the import graph of pkg and everything it imports (tests
// excluded).
func Load(ctx context.Context, goCmd, dir, pkg string) (Graph, error) {
	cmd := exec.CommandContext(ctx, goCmd, "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", pkg)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps %s: %w: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	g := Graph{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		g[fields[0]] = fields[1:]
	}
	return g, nil
}

// Violation is a forbidden package and one import chain leading to it
// from the root.
type Violation struct {
	// Package is the forbidden package.
	Package string
	// Chain is an import chain from the root to Package, both included.
	Chain []string
}

// String returns "pkg (via a → b → pkg)".
func (v Violation) String() string {
	return fmt.Sprintf("%s (via %s)", v.Package, strings.Join(v.Chain, " → "))
}

// under reports whether pkg is prefix or a package below it.
func under(pkg, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	return pkg == prefix || strings.HasPrefix(pkg, prefix+"/") || strings.HasPrefix(pkg, prefix+"-") && !strings.Contains(pkg[len(prefix):], ".")
}

// Forbidden returns the packages of g reachable from root that lie under
// one of the prefixes ("github.com/aws/aws-sdk-go" also covers
// "github.com/aws/aws-sdk-go-v2/..."), with a shortest import chain each,
// in breadth-first order. Only the first forbidden package on each chain
// is reported.
func Forbidden(g Graph, root string, prefixes []string) []Violation {
	bad := func(p string) bool {
		for _, pre := range prefixes {
			if under(p, pre) {
				return true
			}
		}
		return false
	}
	parent := map[string]string{root: ""}
	queue := []string{root}
	var out []Violation
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if bad(p) {
			var chain []string
			for q := p; q != ""; q = parent[q] {
				chain = append([]string{q}, chain...)
			}
			out = append(out, Violation{Package: p, Chain: chain})
			continue
		}
		for _, imp := range g[p] {
			if _, seen := parent[imp]; !seen {
				parent[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	return out
}
