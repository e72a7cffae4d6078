package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode/utf8"
)

// Alert message templates (not part of Flux's API) are Go text/template
// source executed over TemplateData: the composed notification's fields
// ({{.InvolvedObject.Kind}}, {{.Message}}, {{.Metadata.revision}}, …) and
// {{.Alert.Name}}. To keep a template from reading anything but the event,
// or from running away:
//
//   - the functions are the text/template built-ins except call (and, or,
//     not, eq, ne, lt, le, gt, ge, len, index, slice, print, printf,
//     println, html, js, urlquery) plus upper, lower, trim, trimPrefix,
//     trimSuffix, hasPrefix, hasSuffix, contains, replace, default, trunc,
//     quote and toJSON; none reads the environment, files or the network;
//   - define, block and template actions are refused (no recursion), range
//     may only iterate over .Metadata and may not be nested, so execution
//     is linear in template and event size;
//   - the source is at most MaxTemplateSize bytes, printf refuses widths
//     and precisions over 256 and * arguments, print, printf and println
//     take at most 16 arguments, and output stops with an error past the
//     Alert's MaxMessageBytes (DefaultMaxTemplateOutput).
//
// Missing map keys render as the empty string.
const (
	// MaxTemplateSize is the longest template source Compile accepts.
	MaxTemplateSize = 16 << 10
	// DefaultMaxTemplateOutput is the output cap of a template when the
	// Alert sets none.
	DefaultMaxTemplateOutput = 32 << 10
)

// TemplateData is what an Alert's template is executed over: the composed
// notification (its fields are promoted: .Message, .Reason, .Severity,
// .InvolvedObject, .Metadata, .Timestamp, …) and the Alert.
type TemplateData struct {
	Event
	// Alert names the Alert rendering the message.
	Alert TemplateAlert
}

// TemplateAlert identifies the Alert in TemplateData.
type TemplateAlert struct {
	Name      string
	Namespace string
}

// ErrTemplateOutputTooLarge is returned when a template writes more than
// its cap.
var ErrTemplateOutputTooLarge = errors.New("template output exceeds its size cap")

const (
	maxFormatWidth = 256
	maxPrintArgs   = 16
)

var builtinAllowed = map[string]bool{
	"and": true, "or": true, "not": true, "eq": true, "ne": true, "lt": true, "le": true,
	"gt": true, "ge": true, "len": true, "index": true, "slice": true, "print": true,
	"printf": true, "println": true, "html": true, "js": true, "urlquery": true,
}

// templateFuncs returns the function set; limit caps what a function may
// build.
func templateFuncs(limit int) template.FuncMap {
	tooLarge := func(n int) error {
		if n > limit {
			return ErrTemplateOutputTooLarge
		}
		return nil
	}
	return template.FuncMap{
		"upper":      strings.ToUpper,
		"lower":      strings.ToLower,
		"trim":       strings.TrimSpace,
		"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
		"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
		"hasPrefix":  func(prefix, s string) bool { return strings.HasPrefix(s, prefix) },
		"hasSuffix":  func(suffix, s string) bool { return strings.HasSuffix(s, suffix) },
		"contains":   func(sub, s string) bool { return strings.Contains(s, sub) },
		"replace": func(old, replacement, s string) (string, error) {
			n := strings.Count(s, old)
			if err := tooLarge(len(s) + n*(len(replacement)-len(old))); err != nil {
				return "", err
			}
			return strings.ReplaceAll(s, old, replacement), nil
		},
		"default": func(def any, v any) any {
			if isEmptyValue(v) {
				return def
			}
			return v
		},
		"trunc": func(n int, s string) string {
			if n < 0 || utf8.RuneCountInString(s) <= n {
				return s
			}
			i := 0
			for j := range s {
				if i == n {
					return s[:j]
				}
				i++
			}
			return s
		},
		"quote": strconv.Quote,
		"toJSON": func(v any) (string, error) {
			b, err := json.Marshal(v)
			if err != nil {
				return "", err
			}
			if err := tooLarge(len(b)); err != nil {
				return "", err
			}
			return string(b), nil
		},
		"printf": func(format string, args ...any) (string, error) {
			if len(args) > maxPrintArgs {
				return "", fmt.Errorf("printf takes at most %d arguments", maxPrintArgs)
			}
			if err := checkFormat(format); err != nil {
				return "", err
			}
			s := fmt.Sprintf(format, args...)
			return s, tooLarge(len(s))
		},
		"print": func(args ...any) (string, error) {
			if len(args) > maxPrintArgs {
				return "", fmt.Errorf("print takes at most %d arguments", maxPrintArgs)
			}
			s := fmt.Sprint(args...)
			return s, tooLarge(len(s))
		},
		"println": func(args ...any) (string, error) {
			if len(args) > maxPrintArgs {
				return "", fmt.Errorf("println takes at most %d arguments", maxPrintArgs)
			}
			s := fmt.Sprintln(args...)
			return s, tooLarge(len(s))
		},
	}
}

func isEmptyValue(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String, reflect.Map, reflect.Slice, reflect.Array:
		return rv.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return rv.IsNil()
	}
	return rv.IsZero()
}

// checkFormat refuses * widths and widths or precisions over
// maxFormatWidth, which could make printf allocate without bound.
func checkFormat(format string) error {
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		for ; i < len(format); i++ {
			c := format[i]
			if c == '%' {
				break
			}
			if c == '*' {
				return errors.New("printf: * width or precision is not allowed")
			}
			if c >= '0' && c <= '9' {
				j := i
				for j < len(format) && format[j] >= '0' && format[j] <= '9' {
					j++
				}
				if n, err := strconv.Atoi(format[i:j]); err != nil || n > maxFormatWidth {
					return fmt.Errorf("printf: width or precision over %d is not allowed", maxFormatWidth)
				}
				i = j - 1
				continue
			}
			if strings.IndexByte("+-# .[]", c) >= 0 {
				continue
			}
			break // the verb
		}
	}
	return nil
}

// parseTemplate parses and checks a template (see the package's template
// rules).
func parseTemplate(name, text string, limit int) (*template.Template, error) {
	if len(text) > MaxTemplateSize {
		return nil, fmt.Errorf("%d bytes exceed the maximum of %d", len(text), MaxTemplateSize)
	}
	funcs := templateFuncs(limit)
	t, err := template.New(name).Option("missingkey=zero").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, err
	}
	if len(t.Templates()) > 1 {
		return nil, errors.New("define and block are not allowed")
	}
	if t.Tree == nil || t.Tree.Root == nil {
		return t, nil
	}
	if err := checkNode(t.Tree.Root, funcs, 0); err != nil {
		return nil, err
	}
	return t, nil
}

func checkNode(n parse.Node, funcs template.FuncMap, rangeDepth int) error {
	switch n := n.(type) {
	case nil:
		return nil
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkNode(c, funcs, rangeDepth); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return checkNode(n.Pipe, funcs, rangeDepth)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Cmds {
			if err := checkNode(c, funcs, rangeDepth); err != nil {
				return err
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			if err := checkNode(a, funcs, rangeDepth); err != nil {
				return err
			}
		}
	case *parse.ChainNode:
		return checkNode(n.Node, funcs, rangeDepth)
	case *parse.IdentifierNode:
		if _, ok := funcs[n.Ident]; !ok && !builtinAllowed[n.Ident] {
			return fmt.Errorf("function %q is not allowed", n.Ident)
		}
	case *parse.IfNode:
		return checkBranch(&n.BranchNode, funcs, rangeDepth)
	case *parse.WithNode:
		return checkBranch(&n.BranchNode, funcs, rangeDepth)
	case *parse.RangeNode:
		if rangeDepth > 0 {
			return errors.New("nested range is not allowed")
		}
		if !rangesOverField(n.Pipe) {
			return errors.New("range may only iterate over .Metadata")
		}
		return checkBranch(&n.BranchNode, funcs, rangeDepth+1)
	case *parse.TemplateNode:
		return errors.New("template actions are not allowed")
	}
	return nil
}

func checkBranch(b *parse.BranchNode, funcs template.FuncMap, rangeDepth int) error {
	if err := checkNode(b.Pipe, funcs, rangeDepth); err != nil {
		return err
	}
	if err := checkNode(b.List, funcs, rangeDepth); err != nil {
		return err
	}
	if b.ElseList != nil {
		return checkNode(b.ElseList, funcs, rangeDepth)
	}
	return nil
}

// rangesOverField reports whether a range pipeline is .Metadata or
// $.Metadata, the only collection in the data (a field chain could reach
// a method returning a huge number).
func rangesOverField(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode:
		return len(a.Ident) == 1 && a.Ident[0] == "Metadata"
	case *parse.VariableNode:
		return len(a.Ident) == 2 && a.Ident[0] == "$" && a.Ident[1] == "Metadata"
	}
	return false
}

// limitWriter fails once more than left bytes are written.
type limitWriter struct {
	buf  bytes.Buffer
	left int
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		return 0, ErrTemplateOutputTooLarge
	}
	w.left -= len(p)
	return w.buf.Write(p)
}

// render executes r's template over n.
func (r *Rule) render(n Event) (out string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("template panicked: %v", p)
		}
	}()
	w := &limitWriter{left: r.maxOut}
	data := TemplateData{Event: n, Alert: TemplateAlert{Name: r.alert.Name, Namespace: r.alert.Namespace}}
	if err := r.tmpl.Execute(w, data); err != nil {
		return "", err
	}
	return w.buf.String(), nil
}
