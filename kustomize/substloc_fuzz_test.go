package kustomize

import (
	"strings"
	"testing"
)

// FuzzLocateQuery feeds the error path's text handling arbitrary objects
// and sources: it must not panic, and what it finds must start with "${".
func FuzzLocateQuery(f *testing.F) {
	for _, s := range [][2]string{
		{"data:\n  k: \"${bad\"\n", "k: '${bad'\n"},
		{"data:\n  x: |\n    a\n    ${b:=1\n", "x: |\n  a\n  ${b:=1\n---\nkind: X\n"},
		{"a: ${x}\n# ${y\n", "$${y\n${y"},
		{"{a: [${x, ${y}]}", "- name: ${x\n"},
		{"k: é${ñ", "ñ: é${ñ\n"},
	} {
		f.Add(s[0], s[1], 0)
		f.Add(s[0], s[1], strings.LastIndex(s[0], "${"))
	}
	f.Fuzz(func(t *testing.T, data, src string, off int) {
		if off < 0 || off >= len(data) || !strings.HasPrefix(data[off:], "${") {
			return
		}
		value, idx := exprInValue(data, off)
		if !strings.HasPrefix(value[idx:], "${") {
			t.Fatalf("exprInValue(%q, %d) = %q, %d", data, off, value, idx)
		}
		q := newExprQuery(value, idx)
		q.kind, q.name = "X", "x"
		if !strings.HasPrefix(q.expr, q.head) || !strings.HasPrefix(q.rest, q.expr) {
			t.Fatalf("query %+v", q)
		}
		for p := strings.Index(src, q.head); p >= 0; {
			_ = q.textScore(src, p) + q.docScore(src, p)
			_, _ = bytePos(src, p)
			_ = unescaped(src, p)
			next := strings.Index(src[p+2:], q.head)
			if next < 0 {
				break
			}
			p += 2 + next
		}
	})
}
