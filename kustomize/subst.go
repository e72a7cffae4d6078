package kustomize

import (
	"errors"
	"fmt"
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

	start int // byte offset of the outermost "${" being parsed
}

// Error implements error.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%v at offset %d: %s", ErrBadSubstitution, e.Offset, e.Msg)
}

// Unwrap returns ErrBadSubstitution.
func (e *SyntaxError) Unwrap() error { return ErrBadSubstitution }

// MaxSubstitutionDepth is how deeply `${...}` expressions may nest, as in
// ${a:=${b:-${c}}}: deeper input is refused with a *LimitError.
const MaxSubstitutionDepth = 64

// MaxExpansionSize caps the bytes one Expand call may produce (a value
// repeated many times, or a replacement that multiplies it).
const MaxExpansionSize = 16 << 20

// maxPatternWork caps the matcher steps (a unit of the value times 64
// pattern positions) the trim operators of one Expand call may take.
const maxPatternWork = 1 << 26

// ErrSubstitutionLimit reports an expression exceeding one of the
// substitution's resource limits: nesting depth, output size, or the work
// of a pattern operator.
var ErrSubstitutionLimit = errors.New("substitution limit exceeded")

// LimitError names the variable whose expression exceeded a limit.
type LimitError struct {
	Name   string // the variable
	Offset int    // byte offset of its expression in the input
	Reason string // what was exceeded, e.g. "nesting too deep"
}

// Error implements error.
func (e *LimitError) Error() string {
	return fmt.Sprintf("%v: variable %q at offset %d: %s", ErrSubstitutionLimit, e.Name, e.Offset, e.Reason)
}

// Unwrap returns ErrSubstitutionLimit.
func (e *LimitError) Unwrap() error { return ErrSubstitutionLimit }

// UnsetVarError names a variable that strict mode found unset.
type UnsetVarError struct {
	Name string

	off int // byte offset of its expression in the input
}

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
//
// Expand is linear in its input and output: expressions nested deeper than
// MaxSubstitutionDepth, output over MaxExpansionSize and pattern operators
// whose matching would exceed a fixed work budget fail with a *LimitError
// naming the variable.
func Expand(s string, lookup func(name string) (string, bool)) (string, error) {
	p := &substParser{src: s}
	nodes, err := p.parseTop()
	if err != nil {
		return "", err
	}
	e := &evaluator{lookup: lookup, room: MaxExpansionSize, work: maxPatternWork}
	var b strings.Builder
	b.Grow(min(len(s), MaxExpansionSize))
	for _, n := range nodes {
		if err := n.eval(&b, e); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

// evaluator carries the lookup and the budgets of one Expand call.
type evaluator struct {
	lookup func(string) (string, bool)
	room   int // bytes the output may still grow by
	work   int // pattern matcher steps left
}

// write appends s to b within the output budget; f names the expression.
func (e *evaluator) write(b *strings.Builder, s string, f *funcNode) error {
	if len(s) > e.room {
		name, off := "", 0
		if f != nil {
			name, off = f.name, f.off
		}
		return &LimitError{Name: name, Offset: off, Reason: fmt.Sprintf("expansion exceeds %d bytes", MaxExpansionSize)}
	}
	e.room -= len(s)
	b.WriteString(s)
	return nil
}

type substNode interface {
	eval(b *strings.Builder, e *evaluator) error
}

type textNode struct {
	text string
	arg  *funcNode // the expression it is an argument of, nil at top level
}

func (t textNode) eval(b *strings.Builder, e *evaluator) error {
	return e.write(b, t.text, t.arg)
}

type funcNode struct {
	name string        // the variable
	off  int           // byte offset of "${"
	op   string        // "" for plain ${var}
	args [][]substNode // each argument is a concatenation of nodes
}

func (f *funcNode) eval(b *strings.Builder, e *evaluator) error {
	args := make([]string, len(f.args))
	for i, a := range f.args {
		var ab strings.Builder
		for _, n := range a {
			if err := n.eval(&ab, e); err != nil {
				return err
			}
		}
		args[i] = ab.String() // charged to the budget, like the output
	}
	v, ok := e.lookup(f.name)
	if !ok && !isDefaultOp(f.op) {
		return &UnsetVarError{Name: f.name, off: f.off}
	}
	out, err := f.apply(v, args, e)
	if err != nil {
		return err
	}
	return e.write(b, out, f)
}

// apply computes the operator's result, within e's budgets.
func (f *funcNode) apply(v string, args []string, e *evaluator) (string, error) {
	switch f.op {
	case "#", "##", "%", "%%":
		g, ok := compileGlob(args[0], f.op[0] == '%')
		if !ok {
			return v, nil // path.Match rejects the pattern: no match
		}
		out, ok := g.trim(v, f.op[0] == '%', len(f.op) == 2, &e.work)
		if !ok {
			return "", &LimitError{Name: f.name, Offset: f.off, Reason: fmt.Sprintf("pattern %s is too costly to match against a value of %d bytes", f.op, len(v))}
		}
		return out, nil
	case "/", "//", "/#", "/%":
		if n := replacedSize(f.op, v, args); n > e.room {
			return "", &LimitError{Name: f.name, Offset: f.off, Reason: fmt.Sprintf("expansion exceeds %d bytes", MaxExpansionSize)}
		}
	case "^", "^^", ",", ",,":
		// Case mapping may grow a string by a few bytes per rune.
		if 3*len(v) > e.room {
			return "", &LimitError{Name: f.name, Offset: f.off, Reason: fmt.Sprintf("expansion exceeds %d bytes", MaxExpansionSize)}
		}
	}
	return applyOp(f.op, v, args), nil
}

// replacedSize is the length of replaceOp's result, computed without
// building it.
func replacedSize(op, s string, args []string) int {
	from, to := args[0], ""
	if len(args) > 1 {
		to = args[1]
	}
	n := 0
	switch op {
	case "/":
		if strings.Contains(s, from) {
			n = 1
		}
	case "//":
		if from == "" {
			n = utf8.RuneCountInString(s) + 1
		} else {
			n = strings.Count(s, from)
		}
	default:
		n = 1
	}
	return len(s) + n*max(len(to)-len(from), 0)
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
	if n >= len(s)-pos {
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

// exprOffset returns the byte offset, in Expand's input, of the "${" that
// err (an error of Expand) is about.
func exprOffset(err error) (int, bool) {
	switch e := err.(type) {
	case *SyntaxError:
		return e.start, true
	case *LimitError:
		return e.Offset, true
	case *UnsetVarError:
		return e.off, true
	}
	return 0, false
}

// exprMessage describes err (an error of Expand) without its offset, for
// messages that name the expression's place in a source file instead.
func exprMessage(err error) string {
	switch e := err.(type) {
	case *SyntaxError:
		return fmt.Sprintf("%v: %s", ErrBadSubstitution, e.Msg)
	case *LimitError:
		return fmt.Sprintf("%v: variable %q: %s", ErrSubstitutionLimit, e.Name, e.Reason)
	}
	return err.Error()
}

// substParser is a recursive-descent parser over the input bytes; depth
// counts the `${` being parsed, bounded by MaxSubstitutionDepth.
type substParser struct {
	src   string
	pos   int
	depth int
	arg   *funcNode // the expression whose arguments are being parsed
	top   int       // offset of the outermost "${" being parsed
}

func (p *substParser) errf(format string, a ...any) error {
	return &SyntaxError{Offset: p.pos, Msg: fmt.Sprintf(format, a...), start: p.top}
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
				out = append(out, textNode{text: text.String()})
				text.Reset()
			}
			p.top = p.pos
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
		out = append(out, textNode{text: text.String()})
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
	off := p.pos
	p.pos += 2
	if p.peek() == '#' {
		p.pos++
		name := p.parseName()
		if name == "" {
			return nil, p.errf("missing variable name after ${#")
		}
		return &funcNode{name: name, off: off, op: "len"}, p.expect('}')
	}
	name := p.parseName()
	if name == "" {
		return nil, p.errf("unable to parse variable name")
	}
	if p.depth >= MaxSubstitutionDepth {
		return nil, &LimitError{Name: name, Offset: off, Reason: fmt.Sprintf("nesting too deep (more than %d levels of ${...})", MaxSubstitutionDepth)}
	}
	p.depth++
	outer := p.arg
	defer func() { p.depth--; p.arg = outer }()
	f := &funcNode{name: name, off: off}
	p.arg = f
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
	return []substNode{textNode{text: text.String(), arg: p.arg}}, nil
}
