package kustomize_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gitopskit/gitopskit/internal/yamlguard"
	"github.com/gitopskit/gitopskit/kustomize"
)

// TestExpandDeepNesting feeds values nested a million levels deep; each must
// be refused with an error naming the variable, not overflow the stack.
func TestExpandDeepNesting(t *testing.T) {
	const depth = 1_000_000
	lookup := func(string) (string, bool) { return "", false }
	for _, open := range []string{"${deep:=", "${deep#", "${deep/", "${deep:", "${deep:-x${deep:+"} {
		in := strings.Repeat(open, depth) + "x" + strings.Repeat("}", depth)
		_, err := kustomize.Expand(in, lookup)
		var le *kustomize.LimitError
		if !errors.Is(err, kustomize.ErrSubstitutionLimit) || !errors.As(err, &le) {
			t.Fatalf("%s...: got %v, want a *LimitError", open, err)
		}
		if msg := err.Error(); le.Name != "deep" || !strings.Contains(msg, `"deep"`) || !strings.Contains(msg, "nesting too deep") {
			t.Errorf("%s...: error does not name the variable and the reason: %v", open, err)
		}
	}
	// The limit itself still expands.
	in := strings.Repeat("${v:=", kustomize.MaxSubstitutionDepth) + "ok" + strings.Repeat("}", kustomize.MaxSubstitutionDepth)
	if got, err := kustomize.Expand(in, func(string) (string, bool) { return "", false }); err != nil || got != "ok" {
		t.Errorf("%d levels: %q, %v", kustomize.MaxSubstitutionDepth, got, err)
	}
}

func TestExpandOutputLimit(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	lookup := func(k string) (string, bool) {
		if k == "big" {
			return big, true
		}
		return "y", true
	}
	for _, in := range []string{
		strings.Repeat("${big}", 17),
		"${big///" + strings.Repeat("z", 64) + "}",
		"${big//x/" + strings.Repeat("z", 64) + "}",
		"${v:=" + strings.Repeat("${big}", 20) + "}",
	} {
		_, err := kustomize.Expand(in, lookup)
		var le *kustomize.LimitError
		if !errors.As(err, &le) || !strings.Contains(err.Error(), "exceeds") {
			t.Errorf("%.40s...: got %v, want a *LimitError", in, err)
		}
	}
	if got, err := kustomize.Expand(strings.Repeat("${big}", 8), lookup); err != nil || len(got) != 8<<20 {
		t.Errorf("8 MiB output: %d bytes, %v", len(got), err)
	}
}

// trimOracle removes the shortest/longest prefix or suffix matching pattern
// with path.Match, trying every rune boundary.
func trimOracle(s, pattern, op string) string {
	var cuts []int
	for i := range s {
		cuts = append(cuts, i)
	}
	cuts = append(cuts, len(s))
	suffix := op[0] == '%'
	best := -1
	for _, c := range cuts {
		part, n := s[:c], c
		if suffix {
			part, n = s[c:], len(s)-c
		}
		if n == 0 {
			continue
		}
		ok, err := path.Match(pattern, part)
		if err != nil {
			return s
		}
		if ok && (best < 0 || (len(op) == 2) == (n > best)) {
			best = n
		}
	}
	switch {
	case best < 0:
		return s
	case suffix:
		return s[:len(s)-best]
	}
	return s[best:]
}

func TestExpandTrimMatchesPathMatch(t *testing.T) {
	values := []string{"", "a", "abc", "a/b/c.tar.gz", "c.tar.gz", "aaa.bbb.aaa", "x/y", "é.ü/ñ", "[a]*?\\", "//"}
	patterns := []string{"", "*", "?", "a", "*.", ".*", "*/", "/*", "a*a", "*a*", "[a-c]", "[^a]*", "[a-]", "[]", "\\*", "\\", "*[.]*", "?*?", "é*", "*[éü]", "**a", "a?c", "[\\]]", "[^/]*", "*.*.*"}
	for _, v := range values {
		for _, p := range patterns {
			for _, op := range []string{"#", "##", "%", "%%"} {
				in := "${v" + op + "${p}}"
				got, err := kustomize.Expand(in, func(k string) (string, bool) {
					if k == "v" {
						return v, true
					}
					return p, true
				})
				if want := trimOracle(v, p, op); err != nil || got != want {
					t.Errorf("v=%q p=%q op=%s: %q, %v; want %q", v, p, op, got, err, want)
				}
			}
		}
	}
}

// BenchmarkExpandHostilePattern matches a 64 KiB pattern against a 1 MiB
// value: the matcher's work budget ends it with a *LimitError.
func BenchmarkExpandHostilePattern(b *testing.B) {
	value := strings.Repeat("a", 1<<20)
	pattern := strings.Repeat("*a", 32<<10) + "b"
	lookup := func(k string) (string, bool) {
		if k == "p" {
			return pattern, true
		}
		return value, true
	}
	for b.Loop() {
		_, err := kustomize.Expand("${v##${p}}", lookup)
		if !errors.Is(err, kustomize.ErrSubstitutionLimit) {
			b.Fatal(err)
		}
	}
}

// BenchmarkExpandPattern runs the trim operators over a 1 MiB value.
func BenchmarkExpandPattern(b *testing.B) {
	value := strings.Repeat("ab", 1<<19) // 1 MiB, no '/'
	lookup := func(string) (string, bool) { return value, true }
	for _, in := range []string{"${v#*b}", "${v##*b}", "${v%a*}", "${v%%a*}", "${v##*[b]}", "${v#*c}", "${v%%*a*b*a*b*c}"} {
		b.Run(in, func(b *testing.B) {
			b.SetBytes(int64(len(value)))
			for b.Loop() {
				if _, err := kustomize.Expand(in, lookup); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSubstitutionLimitsInBuild tries hostile values through Build: deep
// nesting in a manifest, and a variable whose value is a YAML alias bomb.
func TestSubstitutionLimitsInBuild(t *testing.T) {
	root := t.TempDir()
	deep := strings.Repeat("${deep:=", 100_000) + "x" + strings.Repeat("}", 100_000)
	manifest := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata:\n  v: \"" + deep + "\"\n"
	if err := os.WriteFile(filepath.Join(root, "cm.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := kustomize.Options{Substitute: &kustomize.Substitution{Vars: map[string]string{"x": "y"}}}
	_, err := kustomize.Build(context.Background(), root, ".", opts)
	var se *kustomize.SubstituteError
	if !errors.Is(err, kustomize.ErrSubstitutionLimit) || !errors.As(err, &se) || se.Object != "ConfigMap/deep" || !strings.Contains(err.Error(), `"deep"`) {
		t.Errorf("deep nesting: %v", err)
	}

	// Each level refers ten times to the one below: 10^8 nodes.
	var bomb strings.Builder
	bomb.WriteString("{l0: &l0 [x, x, x, x, x, x, x, x, x, x]")
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&bomb, ", l%d: &l%d [%s]", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	bomb.WriteString("}")
	root = t.TempDir()
	manifest = "apiVersion: example.com/v1\nkind: Thing\nmetadata:\n  name: bomb\nspec: ${bomb}\n"
	if err := os.WriteFile(filepath.Join(root, "thing.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	opts = kustomize.Options{Substitute: &kustomize.Substitution{Vars: map[string]string{"bomb": bomb.String()}}}
	_, err = kustomize.Build(context.Background(), root, ".", opts)
	if !errors.Is(err, yamlguard.ErrAliasBomb) || !errors.As(err, &se) || se.Object != "Thing/bomb" {
		t.Errorf("alias bomb in a value: %v", err)
	}
}

// TestExpandTrimKeepsRunes: unlike path.Match, whose '*' may stop inside a
// multi-byte rune (so "*??" matches the three bytes of "€"), the trim
// operators never cut a rune apart.
func TestExpandTrimKeepsRunes(t *testing.T) {
	for _, op := range []string{"#", "##", "%", "%%"} {
		got, err := kustomize.Expand("${v"+op+"*??}", func(string) (string, bool) { return "€", true })
		if err != nil || got != "€" {
			t.Errorf("%s: %q, %v", op, got, err)
		}
	}
}

// FuzzExpandTrim compares the trim operators with path.Match applied to
// every prefix or suffix, on ASCII values (see TestExpandTrimKeepsRunes).
func FuzzExpandTrim(f *testing.F) {
	for _, s := range [][2]string{{"a/b/c.tar.gz", "*."}, {"aaa", "a*a"}, {"x[y]z", "[[]*"}, {"abc", "[^a-b]"}, {"a\\b", "*\\\\"}, {"a/u", "?/*"}, {"abc", "*é"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, v, p string) {
		if len(v) > 64 || len(p) > 32 || !utf8.ValidString(p) {
			return
		}
		for i := range len(v) {
			if v[i] >= utf8.RuneSelf {
				return
			}
		}
		lookup := func(k string) (string, bool) {
			if k == "v" {
				return v, true
			}
			return p, true
		}
		for _, op := range []string{"#", "##", "%", "%%"} {
			got, err := kustomize.Expand("${v"+op+"${p}}", lookup)
			if want := trimOracle(v, p, op); err != nil || got != want {
				t.Fatalf("v=%q p=%q op=%s: %q, %v; want %q", v, p, op, got, err, want)
			}
		}
	})
}
