package kustomize

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrBadSubstitution reports malformed `${...}` syntax.
var ErrBadSubstitution = errors.New("bad substitution")

// ErrVarNotSet reports, in strict mode, a variable that is referenced
// without a default and has no value.
var ErrVarNotSet = errors.New("variable not set")

var varNameRE = regexp.MustCompile(`^[_[:alpha:]][_[:alpha:][:digit:]]*$`)

// ValidVarName reports whether name is accepted as a substitution variable
// name: a letter or underscore followed by letters, digits or underscores
// (ASCII), as Flux requires.
func ValidVarName(name string) bool { return varNameRE.MatchString(name) }

// InvalidVarNameError names a variable whose name is not valid.
type InvalidVarNameError struct{ Name string }

// Error implements error.
func (e *InvalidVarNameError) Error() string {
	return fmt.Sprintf("variable name %q is invalid, must match %s", e.Name, varNameRE.String())
}

// SyntaxError locates malformed substitution syntax.
type SyntaxError struct {
	Offset int // byte offset in the input
	Msg    string
}

// Error implements error.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%v at offset %d: %s", ErrBadSubstitution, e.Offset, e.Msg)
}

// Unwrap returns ErrBadSubstitution.
func (e *SyntaxError) Unwrap() error { return ErrBadSubstitution }

// UnsetVarError names a variable that strict mode found unset.
type UnsetVarError struct{ Name string }

// Error implements error.
func (e *UnsetVarError) Error() string { return fmt.Sprintf("%v: %q", ErrVarNotSet, e.Name) }

// Unwrap returns ErrVarNotSet.
func (e *UnsetVarError) Unwrap() error { return ErrVarNotSet }

// Expand replaces the `${...}` expressions of s using lookup, with the
// syntax of Flux's post-build substitution: ${var}, ${var:=default},
// ${var:-default} (and :? :+ =, which all act as "default when empty"),
// ${var:pos} and ${var:pos:len}, ${#var}, ${var^} ${var^^} ${var,} ${var,,},
// ${var/from/to} ${var//from/to} ${var/#prefix/to} ${var/%suffix/to},
// ${var#glob} ${var##glob} ${var%glob} ${var%%glob}. `$$` yields `$`, so
// `$${var}` stays literal; a bare `$var` is not expanded. When lookup
// reports a variable missing and the expression gives no default, Expand
// fails with an *UnsetVarError (strict mode).
func Expand(s string, lookup func(name string) (string, bool)) (string, error) {
	p := &substParser{src: s}
	nodes, err := p.parseTop()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, n := range nodes {
		if err := n.eval(&b, lookup); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

type substNode interface {
	eval(b *strings.Builder, lookup func(string) (string, bool)) error
}

type textNode string

func (t textNode) eval(b *strings.Builder, _ func(string) (string, bool)) error {
	b.WriteString(string(t))
	return nil
}

type funcNode struct {
	name string        // the variable
	op   string        // "" for plain ${var}
	args [][]substNode // each argument is a concatenation of nodes
}

func (f *funcNode) eval(b *strings.Builder, lookup func(string) (string, bool)) error {
	args := make([]string, len(f.args))
	for i, a := range f.args {
		var ab strings.Builder
		for _, n := range a {
			if err := n.eval(&ab, lookup); err != nil {
				return err
			}
		}
		args[i] = ab.String()
	}
	v, ok := lookup(f.name)
	if !ok && !isDefaultOp(f.op) {
		return &UnsetVarError{Name: f.name}
	}
	b.WriteString(applyOp(f.op, v, args))
	return nil
}

func isDefaultOp(op string) bool {
	switch op {
	case "=", ":=", ":-", ":?", ":+":
		return true
	}
	return false
}

func applyOp(op, v string, args []string) string {
	switch op {
	case ",":
		return mapFirst(v, unicode.ToLower)
	case ",,":
		return strings.ToLower(v)
	case "^":
		return mapFirst(v, unicode.ToUpper)
	case "^^":
		return strings.ToUpper(v)
	case "len":
		return strconv.Itoa(len(v))
	case "#":
		return trimPrefixGlob(v, args[0], false)
	case "##":
		return trimPrefixGlob(v, args[0], true)
	case "%":
		return reverse(trimPrefixGlob(reverse(v), reverse(args[0]), false))
	case "%%":
		return reverse(trimPrefixGlob(reverse(v), reverse(args[0]), true))
	case ":":
		return substring(v, args)
	case "/", "//", "/#", "/%":
		return replaceOp(op, v, args)
	case "=", ":=", ":-", ":?", ":+":
		if v == "" {
			return strings.Join(args, "")
		}
		return v
	}
	return v
}

func mapFirst(s string, f func(rune) rune) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(f(r)) + s[n:]
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// trimPrefixGlob removes the shortest (or longest) prefix of s matching the
// glob pattern.
func trimPrefixGlob(s, pattern string, longest bool) string {
	match := -1
	for i := len(s); i > 0; i-- {
		ok, err := path.Match(pattern, s[:i])
		if err != nil {
			return s
		}
		if ok {
			match = i
			if longest {
				break
			}
		}
	}
	if match < 0 {
		return s
	}
	return s[match:]
}

func substring(s string, args []string) string {
	pos, err := strconv.Atoi(args[0])
	if err != nil {
		return s
	}
	if pos < 0 {
		pos = max(len(s)+pos, 0)
	}
	if pos > len(s) {
		pos = len(s)
	}
	if len(args) == 1 {
		return s[pos:]
	}
	n, err := strconv.Atoi(args[1])
	if err != nil {
		return s
	}
	if n < 0 {
		end := len(s) + n
		if end < pos {
			return ""
		}
		return s[pos:end]
	}
	if pos+n >= len(s) {
		return s[pos:]
	}
	return s[pos : pos+n]
}

func replaceOp(op, s string, args []string) string {
	from, to := args[0], ""
	if len(args) > 1 {
		to = args[1]
	}
	switch op {
	case "/":
		return strings.Replace(s, from, to, 1)
	case "//":
		return strings.ReplaceAll(s, from, to)
	case "/#":
		if len(args) < 2 {
			return s
		}
		if strings.HasPrefix(s, from) {
			return to + s[len(from):]
		}
	case "/%":
		if len(args) < 2 {
			return s
		}
		if strings.HasSuffix(s, from) {
			return s[:len(s)-len(from)] + to
		}
	}
	return s
}

// substParser is a recursive-descent parser over the input bytes.
type substParser struct {
	src string
	pos int
}

func (p *substParser) errf(format string, a ...any) error {
	return &SyntaxError{Offset: p.pos, Msg: fmt.Sprintf(format, a...)}
}

func (p *substParser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *substParser) atOpen() bool {
	return strings.HasPrefix(p.src[p.pos:], "${")
}

// parseTop parses text with `$$` escapes and `${...}` expressions.
func (p *substParser) parseTop() ([]substNode, error) {
	var out []substNode
	var text strings.Builder
	for p.pos < len(p.src) {
		switch {
		case strings.HasPrefix(p.src[p.pos:], "$$"):
			text.WriteByte('$')
			p.pos += 2
		case p.atOpen():
			if text.Len() > 0 {
				out = append(out, textNode(text.String()))
				text.Reset()
			}
			n, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		default:
			text.WriteByte(p.src[p.pos])
			p.pos++
		}
	}
	if text.Len() > 0 {
		out = append(out, textNode(text.String()))
	}
	return out, nil
}

func isIdentRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }

func (p *substParser) parseName() string {
	start := p.pos
	for p.pos < len(p.src) {
		r, w := utf8.DecodeRuneInString(p.src[p.pos:])
		if !isIdentRune(r) {
			break
		}
		p.pos += w
	}
	return p.src[start:p.pos]
}

func (p *substParser) expect(c byte) error {
	if p.peek() != c {
		if p.pos >= len(p.src) {
			return p.errf("missing %q", c)
		}
		return p.errf("expected %q, found %q", c, p.src[p.pos])
	}
	p.pos++
	return nil
}

// parseExpr parses one `${...}` starting at "${".
func (p *substParser) parseExpr() (substNode, error) {
	p.pos += 2
	if p.peek() == '#' {
		p.pos++
		name := p.parseName()
		if name == "" {
			return nil, p.errf("missing variable name after ${#")
		}
		return &funcNode{name: name, op: "len"}, p.expect('}')
	}
	name := p.parseName()
	if name == "" {
		return nil, p.errf("unable to parse variable name")
	}
	f := &funcNode{name: name}
	switch c := p.peek(); c {
	case '}':
		p.pos++
		return f, nil
	case ':':
		p.pos++
		if n := p.peek(); n == '=' || n == '-' || n == '?' || n == '+' {
			p.pos++
			f.op = ":" + string(n)
			return f, p.parseDefaultArgs(f)
		}
		f.op = ":"
		a, err := p.parseParam(func(b byte) bool { return b != ':' && b != '}' }, false)
		if err != nil {
			return nil, err
		}
		f.args = append(f.args, a)
		if p.peek() == '}' {
			p.pos++
			return f, nil
		}
		if err := p.expect(':'); err != nil {
			return nil, err
		}
		a, err = p.parseParam(func(b byte) bool { return b != '}' }, false)
		if err != nil {
			return nil, err
		}
		f.args = append(f.args, a)
		return f, p.expect('}')
	case '=':
		p.pos++
		f.op = "="
		return f, p.parseDefaultArgs(f)
	case ',', '^':
		start := p.pos
		for p.pos-start < 2 && (p.peek() == ',' || p.peek() == '^') {
			p.pos++
		}
		f.op = p.src[start:p.pos]
		return f, p.expect('}')
	case '/':
		p.pos++
		f.op = "/"
		if n := p.peek(); n == '/' || n == '#' || n == '%' {
			f.op += string(n)
			p.pos++
		}
		if p.peek() == '/' {
			f.args = append(f.args, nil)
		} else {
			a, err := p.parseParam(func(b byte) bool { return b != '/' }, true)
			if err != nil {
				return nil, err
			}
			f.args = append(f.args, a)
		}
		if err := p.expect('/'); err != nil {
			return nil, err
		}
		if p.peek() == '}' {
			p.pos++
			return f, nil
		}
		a, err := p.parseParam(func(b byte) bool { return b != '}' }, true)
		if err != nil {
			return nil, err
		}
		f.args = append(f.args, a)
		return f, p.expect('}')
	case '#', '%':
		start := p.pos
		for p.pos-start < 2 && p.peek() == c {
			p.pos++
		}
		f.op = p.src[start:p.pos]
		a, err := p.parseParam(func(b byte) bool { return b != '}' }, false)
		if err != nil {
			return nil, err
		}
		f.args = append(f.args, a)
		return f, p.expect('}')
	default:
		if p.pos >= len(p.src) {
			return nil, p.errf("missing closing brace")
		}
		return nil, p.errf("unexpected %q after variable name", c)
	}
}

// parseDefaultArgs parses the words of a default operator up to "}".
func (p *substParser) parseDefaultArgs(f *funcNode) error {
	var arg []substNode
	for {
		if p.peek() == '}' {
			p.pos++
			f.args = append(f.args, arg)
			return nil
		}
		a, err := p.parseParam(func(b byte) bool { return b != '}' }, false)
		if err != nil {
			return err
		}
		arg = append(arg, a...)
	}
}

// parseParam parses one operand: a nested expression, or text whose bytes
// satisfy accept and which stops before "${". With escapes, `\/`, `\\` and
// `$$` stand for `/`, `\` and `$`.
func (p *substParser) parseParam(accept func(byte) bool, escapes bool) ([]substNode, error) {
	if p.atOpen() {
		n, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		return []substNode{n}, nil
	}
	var text strings.Builder
	for p.pos < len(p.src) {
		if escapes {
			rest := p.src[p.pos:]
			if strings.HasPrefix(rest, `\/`) || strings.HasPrefix(rest, `\\`) {
				text.WriteByte(rest[1])
				p.pos += 2
				continue
			}
			if strings.HasPrefix(rest, "$$") {
				text.WriteByte('$')
				p.pos += 2
				continue
			}
		}
		if p.atOpen() || !accept(p.src[p.pos]) {
			break
		}
		text.WriteByte(p.src[p.pos])
		p.pos++
	}
	if text.Len() == 0 {
		if p.pos >= len(p.src) {
			return nil, p.errf("missing closing brace")
		}
		return nil, p.errf("unable to parse substitution within function")
	}
	return []substNode{textNode(text.String())}, nil
}
