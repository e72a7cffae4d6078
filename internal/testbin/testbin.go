package testbin

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Dir returns the directory holding the project's built tools: $GITOPSKIT_BIN
// when set (the Makefile sets it), else bin/ at the root of the module that
// contains the working directory.
func Dir() (string, error) {
	if d := os.Getenv("GITOPSKIT_BIN"); d != "" {
		return filepath.Abs(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "tools")); err == nil {
				return filepath.Join(d, "bin"), nil
			}
		}
		if filepath.Dir(d) == d {
			return "", errors.New("testbin: cannot find the repository root (no go.mod with a tools/ directory above the working directory)")
		}
	}
}

// Path returns the absolute path of the named tool in Dir, or an error that
// says how to build it.
func Path(name string) (string, error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		if lp, lerr := exec.LookPath(name); lerr == nil && (name == "git" || name == "tar") {
			return lp, nil
		}
		return "", errors.New("testbin: " + p + " not found; run `make tools controlplane` first")
	}
	return p, nil
}

// Tool returns the path of the named tool, failing the test (never skipping
// it) when the tool has not been built.
func Tool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := Path(name)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}
