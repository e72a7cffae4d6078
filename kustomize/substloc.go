package kustomize

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// maxLocateBytes bounds what locating one failed expression reads back
// from the build's files.
const maxLocateBytes = 64 << 20

// exprQuery is what a built object tells of an expression that failed
// substitution, to find where that expression is written.
type exprQuery struct {
	head string // "${" and the variable name, written alike in every source
	expr string // the expression to its closing brace, or to the end of its line
	rest string // the value from the expression to the end of its line
	kind string // the object's kind
	name string // the object's name as built (prefixes and suffixes included)
}

// sourcePos is a place in one of the build's files.
type sourcePos struct {
	file      string // relative to the root, slash-separated
	line, col int    // 1-based; col counts bytes
}

// locateExpr finds the file of the build, and the line and column in it,
// where the expression starting at byte offset off of data (the YAML of an
// object as built) is written. kustomize does not keep where an object's
// text came from, so the files the build read are searched for the
// expression's text, best match first: the rest of the value's line, then
// the expression alone, then the variable name; ties go to a document of
// the same kind whose name is part of the object's, then to the file read
// first. Generated objects are found in the kustomization that generates
// them. Files known only in memory (generated kustomizations, decrypted
// sources) are not searched. It runs only once substitution has failed.
func (f *confinedFS) locateExpr(data string, off int, kind, name string) (sourcePos, bool) {
	if off < 0 || off >= len(data) || !strings.HasPrefix(data[off:], "${") {
		return sourcePos{}, false
	}
	q := newExprQuery(exprInValue(data, off))
	q.kind, q.name = kind, name
	var best sourcePos
	bestScore, budget := 0, maxLocateBytes
	for _, abs := range f.readFiles() {
		if !within(f.root, abs) {
			continue // a remote base or file
		}
		b, err := os.ReadFile(abs)
		if err != nil {
			continue
		}
		if budget -= len(b); budget < 0 {
			break
		}
		if !bytes.Contains(b, []byte(q.head)) {
			continue
		}
		src := string(b)
		for from := 0; ; {
			i := strings.Index(src[from:], q.head)
			if i < 0 {
				break
			}
			p := from + i
			from = p + 2
			if !unescaped(src, p) {
				continue
			}
			t := 3 * q.textScore(src, p)
			if t+2 <= bestScore {
				continue
			}
			if s := t + q.docScore(src, p); s > bestScore {
				bestScore = s
				line, col := bytePos(src, p)
				best = sourcePos{file: f.rel(abs), line: line, col: col}
			}
		}
	}
	return best, bestScore > 0
}

// newExprQuery describes the expression at byte idx of value.
func newExprQuery(value string, idx int) exprQuery {
	rest, _, _ := strings.Cut(value[idx:], "\n")
	q := exprQuery{rest: rest, expr: rest}
	depth := 0
scan:
	for i := 0; i < len(rest); i++ {
		switch {
		case strings.HasPrefix(rest[i:], "${"):
			depth++
			i++
		case rest[i] == '}':
			if depth--; depth == 0 {
				q.expr = rest[:i+1]
				break scan
			}
		}
	}
	n := 2
	for n < len(rest) && (isIdentByte(rest[n]) || n == 2 && rest[n] == '#') {
		n++
	}
	q.head = rest[:n]
	return q
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= utf8.RuneSelf
}

// textScore rates how much of the expression's text src holds at p: 1 for
// the variable name only, 2 for the whole expression, 3 for the rest of
// the value's line and 4 when the value's line also ends there.
func (q *exprQuery) textScore(src string, p int) int {
	s := src[p:]
	switch {
	case strings.HasPrefix(s, q.rest):
		if end := len(q.rest); end == len(s) || strings.IndexByte("\r\n\"' \t,]", s[end]) >= 0 {
			return 4
		}
		return 3
	case strings.HasPrefix(s, q.expr):
		return 2
	}
	return 1
}

// docScore rates the YAML document of src around p: one point when it is
// of the object's kind, one when a name it gives is part of the object's
// name (kustomize adds prefixes, suffixes and hashes).
func (q *exprQuery) docScore(src string, p int) int {
	start := strings.LastIndex(src[:p], "\n---") + 1
	end := len(src)
	if i := strings.Index(src[p:], "\n---"); i >= 0 {
		end = p + i
	}
	kindOK, nameOK := false, false
	for line := range strings.Lines(src[start:end]) {
		line = strings.TrimSpace(line)
		line = strings.TrimPrefix(line, "- ")
		if v, ok := strings.CutPrefix(line, "kind:"); ok && scalarText(v) == q.kind {
			kindOK = true
		}
		if v, ok := strings.CutPrefix(line, "name:"); ok {
			if n := scalarText(v); n != "" && strings.Contains(q.name, n) {
				nameOK = true
			}
		}
	}
	score := 0
	if kindOK {
		score++
	}
	if nameOK {
		score++
	}
	return score
}

// scalarText reads the text of a one-line YAML scalar: without a trailing
// comment, surrounding blanks or quotes.
func scalarText(v string) string {
	if i := strings.Index(v, " #"); i >= 0 {
		v = v[:i]
	}
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
	}
	return v
}

// unescaped reports whether the "${" at p of s starts an expression rather
// than following a "$$" escape: an even number of '$' precede it.
func unescaped(s string, p int) bool {
	n := 0
	for i := p - 1; i >= 0 && s[i] == '$'; i-- {
		n++
	}
	return n%2 == 0
}

// exprInValue returns the scalar of data (one YAML document) in which the
// "${" at byte offset off is written, and the index of that "${" in the
// scalar's value. Outside any scalar (or when data does not parse) it
// returns the rest of off's line.
func exprInValue(data string, off int) (string, int) {
	rest, _, _ := strings.Cut(data[off:], "\n")
	var doc yaml.Node
	if err := unmarshalNode([]byte(data), &doc); err != nil {
		return rest, 0
	}
	line, col := runePos(data, off)
	var in *yaml.Node
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && (n.Line < line || n.Line == line && n.Column <= col) {
			in = n // nodes come in the order of the text
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	if in == nil {
		return rest, 0
	}
	start, ok := byteOffset(data, in.Line, in.Column)
	if !ok || start > off {
		return rest, 0
	}
	// The expression is the k-th "${" of the scalar in the text; escapes
	// of quoted styles do not apply to '$' or '{'.
	k := strings.Count(data[start:off], "${")
	idx := -1
	for i := 0; i <= k; i++ {
		j := strings.Index(in.Value[idx+1:], "${")
		if j < 0 {
			return rest, 0
		}
		idx += 1 + j
	}
	return in.Value, idx
}

// unmarshalNode parses data into n, turning a panic of the parser into an
// error.
func unmarshalNode(data []byte, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml parser panicked: %v", r)
		}
	}()
	return yaml.Unmarshal(data, n)
}

// runePos returns the 1-based line and column (in characters, as the YAML
// parser counts them) of byte offset off of s.
func runePos(s string, off int) (line, col int) {
	ls := strings.LastIndexByte(s[:off], '\n') + 1
	return 1 + strings.Count(s[:ls], "\n"), 1 + utf8.RuneCountInString(s[ls:off])
}

// bytePos returns the 1-based line and column (in bytes) of byte offset off
// of s.
func bytePos(s string, off int) (line, col int) {
	ls := strings.LastIndexByte(s[:off], '\n') + 1
	return 1 + strings.Count(s[:ls], "\n"), 1 + off - ls
}

// byteOffset returns the byte offset of the 1-based line and character
// column of s.
func byteOffset(s string, line, col int) (int, bool) {
	off := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(s[off:], '\n')
		if i < 0 {
			return 0, false
		}
		off += i + 1
	}
	for c := 1; c < col; c++ {
		if off >= len(s) || s[off] == '\n' {
			return 0, false
		}
		_, w := utf8.DecodeRuneInString(s[off:])
		off += w
	}
	return off, true
}
