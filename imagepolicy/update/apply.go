package update

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-logr/logr"
	"go.yaml.in/yaml/v3"

	"github.com/gitopskit/gitopskit/imagepolicy"
	"github.com/gitopskit/gitopskit/source"
)

// MarkerKey is the key of a setter marker's JSON object.
const MarkerKey = "$imagepolicy"

// screenToken is the text a file must contain to be read, as Flux screens.
var screenToken = []byte(`"` + MarkerKey + `"`)

// DefaultMaxFileSize caps the size of a file Apply reads.
const DefaultMaxFileSize int64 = 16 << 20

// Policy is an ImagePolicy's name and its latest reference.
type Policy struct {
	// Namespace and Name identify the ImagePolicy; markers refer to it as
	// "namespace:name".
	Namespace, Name string
	// Latest is its status.latestRef. A policy without a tag is ignored.
	Latest imagepolicy.ImageRef
}

// Options tunes Apply.
type Options struct {
	// Path is the slash-separated directory (or file) under the root to
	// update, as spec.update.path; empty means the root.
	Path string
	// MaxFileSize caps the files read, in bytes; 0 means
	// DefaultMaxFileSize. Larger marked files are reported in ProblemFiles.
	MaxFileSize int64
}

// Apply rewrites the marked fields of the YAML files under root/opts.Path
// with the policies' latest references and returns what changed. Files are
// written only when a value changed. Every read and write is confined to
// root (an os.Root): symbolic links are not followed, and a path that
// leaves root wraps source.ErrInvalid; I/O errors stop it.
func Apply(ctx context.Context, root string, policies []Policy, opts Options) (Result, error) {
	log := logr.FromContextOrDiscard(ctx)
	rel, err := source.CleanRelPath(opts.Path)
	if err != nil {
		return Result{}, err
	}
	setters := Setters(policies)
	r, err := os.OpenRoot(root)
	if err != nil {
		return Result{}, fmt.Errorf("opening the update root: %w", err)
	}
	defer r.Close()
	info, err := r.Lstat(filepath.FromSlash(rel))
	if err != nil {
		return Result{}, fmt.Errorf("update path %q: %w", rel, err)
	}
	// File names in the result are relative to the update path (its
	// directory when it names a file), as in Flux.
	dirRoot := rel
	if !info.IsDir() {
		dirRoot = path.Dir(rel)
	}
	maxSize := opts.MaxFileSize
	if maxSize <= 0 {
		maxSize = DefaultMaxFileSize
	}
	fsys := r.FS()
	var res Result
	err = fs.WalkDir(fsys, rel, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walking %s: %w", rel, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" && p != rel {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if ext := path.Ext(p); ext != ".yaml" && ext != ".yml" && d.Name() != "Kustomization" {
			return nil
		}
		name := p
		if dirRoot != "." {
			name = strings.TrimPrefix(p, dirRoot+"/")
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Size() > maxSize {
			res.ProblemFiles = append(res.ProblemFiles, name)
			return nil
		}
		data, err := r.ReadFile(filepath.FromSlash(p))
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		if !bytes.Contains(data, screenToken) {
			return nil
		}
		out, fr, err := Rewrite(data, setters)
		if err != nil {
			log.V(1).Info("file with a marker does not parse", "file", name, "error", err.Error())
			res.ProblemFiles = append(res.ProblemFiles, name)
			return nil
		}
		for _, s := range fr.Skipped {
			s.File = name
			res.Skipped = append(res.Skipped, s)
		}
		if len(fr.Changes) == 0 {
			return nil
		}
		for _, c := range fr.Changes {
			res.AddChange(name, c.Object, c.Change)
		}
		if err := r.WriteFile(filepath.FromSlash(p), out, fi.Mode().Perm()); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
		log.V(1).Info("updated file", "file", name, "changes", len(fr.Changes))
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

// Setters maps each setter name the policies provide ("ns:name",
// "ns:name:tag", "ns:name:name", "ns:name:digest") to its value. The
// digest setter is absent when a policy has no digest.
func Setters(policies []Policy) map[string]string {
	m := make(map[string]string, 4*len(policies))
	for _, p := range policies {
		if p.Latest.Tag == "" {
			continue
		}
		s := p.Namespace + ":" + p.Name
		m[s] = p.Latest.String()
		m[s+":tag"] = p.Latest.Tag
		m[s+":name"] = p.Latest.Name
		if p.Latest.Digest != "" {
			m[s+":digest"] = p.Latest.Digest
		}
	}
	return m
}

// ObjectChange is one change in a file, with its object.
type ObjectChange struct {
	Object ObjectIdentifier
	Change Change
}

// FileResult is what Rewrite did to one file.
type FileResult struct {
	Changes []ObjectChange
	Skipped []SkippedMarker
}

// edit replaces data[start:end] with text.
type edit struct {
	start, end int
	text       string
}

// Rewrite replaces the marked values of one YAML stream with the values of
// setters (setter name → value) and returns the new content (data itself
// when nothing changed). Content that does not parse as YAML is an error.
func Rewrite(data []byte, setters map[string]string) (out []byte, fr FileResult, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, fr, err = nil, FileResult{}, fmt.Errorf("YAML does not parse: %v", r)
		}
	}()
	lines := lineStarts(data)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var edits []edit
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, FileResult{}, fmt.Errorf("YAML does not parse: %w", err)
		}
		id := identify(&doc)
		walk(&doc, func(n *yaml.Node) {
			setter, ok := marker(n)
			if !ok {
				return
			}
			value, ok := setters[setter]
			if !ok || value == n.Value {
				return
			}
			e, reason := replacement(data, lines, n, value)
			if reason != "" {
				fr.Skipped = append(fr.Skipped, SkippedMarker{Line: n.Line, Setter: setter, Reason: reason})
				return
			}
			edits = append(edits, e)
			fr.Changes = append(fr.Changes, ObjectChange{Object: id, Change: Change{OldValue: n.Value, NewValue: value, Setter: setter}})
		})
	}
	if len(edits) == 0 {
		return data, fr, nil
	}
	var b bytes.Buffer
	b.Grow(len(data) + 64*len(edits))
	pos := 0
	for _, e := range edits { // in document order, so increasing offsets
		b.Write(data[pos:e.start])
		b.WriteString(e.text)
		pos = e.end
	}
	b.Write(data[pos:])
	return b.Bytes(), fr, nil
}

// walk calls f for every scalar that is a value: mapping values and
// sequence items, at any depth.
func walk(n *yaml.Node, f func(*yaml.Node)) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walk(c, f)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			walk(n.Content[i], f)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			walk(c, f)
		}
	case yaml.ScalarNode:
		f(n)
	}
}

// marker returns the setter a scalar's comment names. As kyaml reads field
// metadata, the line comment is used when there is one, else the head
// comment; the comment, stripped of its leading '#', must be a JSON object
// of strings with a non-empty MarkerKey.
func marker(n *yaml.Node) (string, bool) {
	c := n.LineComment
	if c == "" {
		c = n.HeadComment
	}
	if c == "" || (!strings.Contains(c, MarkerKey) && !strings.Contains(c, refPrefix)) {
		return "", false
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(strings.TrimLeft(c, "#")), &m); err != nil {
		return "", false
	}
	if s := m[MarkerKey]; s != "" {
		return s, true
	}
	// The long form kyaml also reads: a reference to the setter's
	// definition.
	s, ok := strings.CutPrefix(m["$ref"], refPrefix)
	return s, ok && s != ""
}

// refPrefix starts the long form of a marker,
// {"$ref": "#/definitions/io.k8s.cli.setters.ns:name"}.
const refPrefix = "#/definitions/io.k8s.cli.setters."

// identify reads a document's apiVersion, kind, metadata.name and
// metadata.namespace.
func identify(doc *yaml.Node) ObjectIdentifier {
	var id ObjectIdentifier
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return id
	}
	m := doc.Content[0]
	get := func(m *yaml.Node, key string) *yaml.Node {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				return m.Content[i+1]
			}
		}
		return nil
	}
	str := func(n *yaml.Node) string {
		if n != nil && n.Kind == yaml.ScalarNode {
			return n.Value
		}
		return ""
	}
	id.APIVersion = str(get(m, "apiVersion"))
	id.Kind = str(get(m, "kind"))
	if md := get(m, "metadata"); md != nil && md.Kind == yaml.MappingNode {
		id.Name = str(get(md, "name"))
		id.Namespace = str(get(md, "namespace"))
	}
	return id
}

func lineStarts(data []byte) []int {
	starts := []int{0}
	for i, c := range data {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// replacement locates the scalar n in data and returns the edit that
// writes value in its place, keeping its quoting style where the value
// allows, or a reason it cannot be replaced in place.
func replacement(data []byte, lines []int, n *yaml.Node, value string) (edit, string) {
	if !utf8.ValidString(value) {
		return edit{}, "the new value is not valid UTF-8"
	}
	if n.Anchor != "" || n.Style&yaml.TaggedStyle != 0 {
		return edit{}, "the value is anchored or tagged"
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return edit{}, "the value is a block scalar"
	}
	if n.Line < 1 || n.Line > len(lines) || n.Column < 1 {
		return edit{}, "the value's position is unknown"
	}
	lineStart := lines[n.Line-1]
	lineEnd := len(data)
	if n.Line < len(lines) {
		lineEnd = lines[n.Line] - 1
	}
	line := data[lineStart:lineEnd]
	// Column counts characters from 1.
	off := 0
	for col := 1; col < n.Column; col++ {
		if off >= len(line) {
			return edit{}, "the value's position is unknown"
		}
		_, size := utf8.DecodeRune(line[off:])
		off += size
	}
	rest := line[off:]
	var raw []byte
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		end := closingDouble(rest)
		if end < 0 {
			return edit{}, "the quoted value spans several lines"
		}
		raw = rest[:end+1]
	case n.Style&yaml.SingleQuotedStyle != 0:
		end := closingSingle(rest)
		if end < 0 {
			return edit{}, "the quoted value spans several lines"
		}
		raw = rest[:end+1]
	default:
		end := len(rest)
		if i := bytes.Index(rest, []byte(" #")); i >= 0 {
			end = i
		}
		if i := bytes.Index(rest, []byte("\t#")); i >= 0 && i < end {
			end = i
		}
		raw = bytes.TrimRight(rest[:end], " \t\r")
	}
	// The located text must read back as the value, else it is not the
	// whole scalar (a plain scalar continued on the next line).
	if got, ok := decodeScalar(raw); !ok || got != n.Value {
		return edit{}, "the value spans several lines"
	}
	start := lineStart + off
	return edit{start: start, end: start + len(raw), text: render(value, n.Style)}, ""
}

// closingDouble returns the index of the quote closing a double-quoted
// scalar that starts at s[0], or -1.
func closingDouble(s []byte) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// closingSingle returns the index of the quote closing a single-quoted
// scalar that starts at s[0], or -1.
func closingSingle(s []byte) int {
	for i := 1; i < len(s); i++ {
		if s[i] == '\'' {
			if i+1 < len(s) && s[i+1] == '\'' {
				i++
				continue
			}
			return i
		}
	}
	return -1
}

// decodeScalar parses raw as a lone flow scalar and returns its string.
func decodeScalar(raw []byte) (string, bool) {
	var n yaml.Node
	if err := yaml.Unmarshal(append([]byte("v: "), raw...), &n); err != nil {
		return "", false
	}
	if len(n.Content) != 1 || len(n.Content[0].Content) != 2 || n.Content[0].Content[1].Kind != yaml.ScalarNode {
		return "", false
	}
	return n.Content[0].Content[1].Value, true
}

// yaml11NonString matches plain values YAML 1.1 readers take for booleans,
// nulls or numbers although YAML 1.2 reads them as strings: kyaml quotes
// such values (FormatNonStringStyle), and so does this package.
var yaml11NonString = regexp.MustCompile(`^(?:[yYnN]|[yY]es|YES|[nN]o|NO|[oO]n|ON|[oO]ff|OFF|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?|[-+]?0b[01_]+|[-+]?[0-9][0-9_]*_[0-9_]*(?:\.[0-9_]*)?|[-+]?0[0-7_]+)$`)

// render writes value as a scalar in the given style: single-quoted and
// double-quoted stay so; a plain value that would not read back as the same
// string is double-quoted.
func render(value string, style yaml.Style) string {
	switch {
	case style&yaml.SingleQuotedStyle != 0 && printable(value):
		return "'" + strings.ReplaceAll(value, "'", "''") + "'"
	case style&yaml.DoubleQuotedStyle != 0:
		return strconv.Quote(value)
	}
	if value != "" && printable(value) && !yaml11NonString.MatchString(value) {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte("v: "+value), &n); err == nil && len(n.Content) == 1 && len(n.Content[0].Content) == 2 {
			v := n.Content[0].Content[1]
			if v.Kind == yaml.ScalarNode && v.Tag == "!!str" && v.Style == 0 && v.Value == value && v.LineComment == "" {
				return value
			}
		}
	}
	return strconv.Quote(value)
}

// printable reports whether value is valid UTF-8 made of printable
// characters only (spaces allowed), so it may stand unescaped in a plain or
// single-quoted scalar.
func printable(value string) bool {
	if !utf8.ValidString(value) {
		return false
	}
	for _, r := range value {
		if r != ' ' && !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
