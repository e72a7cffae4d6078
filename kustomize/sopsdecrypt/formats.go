package sopsdecrypt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/stores"
	"go.yaml.in/yaml/v3"
	"gopkg.in/ini.v1"

	"github.com/gitopskit/gitopskit/internal/sopsmark"
)

// This file reads and writes the five SOPS file formats (YAML, JSON,
// dotenv, INI and binary) the way the sops v3.13 CLI does, to the byte:
// the trees it builds (keys in file order, value types, comments) and the
// plaintext it prints are those of sops's own format packages. Those
// packages are not imported because they pull in sops's configuration
// package and, through it, the Google Cloud Storage and gRPC xDS client
// libraries (some 200 packages) that decryption never uses. The metadata
// under the "sops" key is still converted by sops's root stores package.

// metadataOpts is where each format keeps its SOPS metadata.
func metadataOpts(format string) stores.MetadataOpts {
	switch format {
	case sopsmark.Dotenv:
		return stores.MetadataOpts{Flatten: stores.MetadataFlattenFull}
	case sopsmark.INI:
		return stores.MetadataOpts{Flatten: stores.MetadataFlattenBelowTop, EscapeNewlines: true}
	}
	return stores.MetadataOpts{Flatten: stores.MetadataFlattenNone}
}

// loadEncrypted parses a SOPS-encrypted document of format (binary
// documents are JSON envelopes) and separates its metadata from its data.
func loadEncrypted(data []byte, format string) (sops.Tree, error) {
	in := format
	if in != sopsmark.YAML && in != sopsmark.Dotenv && in != sopsmark.INI {
		in = sopsmark.JSON
	}
	branches, err := loadPlain(data, in)
	if err != nil {
		return sops.Tree{}, err
	}
	branches, md, err := stores.ExtractMetadata(branches, metadataOpts(in))
	if err != nil {
		return sops.Tree{}, err
	}
	return sops.Tree{Branches: branches, Metadata: md}, nil
}

// loadPlain parses a document of format into tree branches, one per YAML
// document and one for the other formats. Binary data becomes a single
// "data" entry.
func loadPlain(data []byte, format string) (sops.TreeBranches, error) {
	switch format {
	case sopsmark.YAML:
		return loadYAML(data)
	case sopsmark.JSON:
		b, err := loadJSON(data)
		if err != nil {
			return nil, fmt.Errorf("invalid JSON document: %w", err)
		}
		return sops.TreeBranches{b}, nil
	case sopsmark.Dotenv:
		return loadDotenv(data)
	case sopsmark.INI:
		b, err := loadINI(data)
		if err != nil {
			return nil, fmt.Errorf("invalid INI document: %w", err)
		}
		return sops.TreeBranches{b}, nil
	}
	return sops.TreeBranches{{{Key: "data", Value: string(data)}}}, nil
}

// emitPlain renders decrypted tree branches in format.
func emitPlain(branches sops.TreeBranches, format string) ([]byte, error) {
	switch format {
	case sopsmark.YAML:
		return emitYAML(branches)
	case sopsmark.JSON:
		if len(branches) == 0 {
			return nil, errors.New("no document to write as JSON")
		}
		return emitJSON(branches[0])
	case sopsmark.Dotenv:
		if len(branches) == 0 {
			return nil, errors.New("no document to write as dotenv")
		}
		return emitDotenv(branches[0])
	case sopsmark.INI:
		return emitINI(branches)
	}
	return emitBinary(branches)
}

// --- YAML ---

// loadYAML reads every document of a YAML stream. As sops does, the first
// document is decoded into a map once beforehand, which rejects duplicate
// keys (and a first document that is not a mapping, or an empty stream).
func loadYAML(data []byte) (sops.TreeBranches, error) {
	if len(data) > 0 {
		if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(make(map[string]any)); err != nil {
			return nil, err
		}
	}
	var out sops.TreeBranches
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("invalid YAML document: %w", err)
		}
		b, err := yamlBranch(&doc, make(sops.TreeBranch, 0), false)
		if err != nil {
			return nil, fmt.Errorf("invalid YAML document: %w", err)
		}
		out = append(out, b)
	}
}

// yamlComments appends each line of a YAML comment (without its "#") to
// a branch as comment entries.
func yamlComments(b sops.TreeBranch, comment string, inline bool) sops.TreeBranch {
	for _, c := range yamlCommentLines(comment) {
		b = append(b, sops.TreeItem{Key: sops.Comment{Value: c, Inline: inline}})
	}
	return b
}

// yamlListComments appends each line of a YAML comment to a list.
func yamlListComments(l []any, comment string, inline bool) []any {
	for _, c := range yamlCommentLines(comment) {
		l = append(l, sops.Comment{Value: c, Inline: inline})
	}
	return l
}

// yamlCommentLines splits a node's comment into its non-empty lines, each
// without its first character (the "#").
func yamlCommentLines(comment string) []string {
	if comment == "" {
		return nil
	}
	var out []string
	for line := range strings.SplitSeq(comment, "\n") {
		if line != "" {
			out = append(out, line[1:])
		}
	}
	return out
}

// yamlBranch appends the entries of a document or mapping node to b.
// Unless the caller already took them (own), the node's head and line
// comments come first and its foot comment last.
func yamlBranch(n *yaml.Node, b sops.TreeBranch, own bool) (sops.TreeBranch, error) {
	if !own {
		b = yamlComments(b, n.HeadComment, false)
		b = yamlComments(b, n.LineComment, false)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			var err error
			if b, err = yamlBranch(c, b, false); err != nil {
				return nil, err
			}
		}
	case yaml.SequenceNode:
		return nil, errors.New("YAML documents that are sequences are not supported")
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			b = yamlComments(b, k.HeadComment, false)
			b = yamlComments(b, k.LineComment, false)
			scalar := v.Kind == yaml.ScalarNode || v.Kind == yaml.AliasNode
			if scalar {
				b = yamlComments(b, v.HeadComment, false)
				b = yamlComments(b, v.LineComment, true)
			}
			var key any
			_ = k.Decode(&key)
			val, err := yamlValue(v, scalar)
			if err != nil {
				return nil, err
			}
			b = append(b, sops.TreeItem{Key: key, Value: val})
			if scalar {
				b = yamlComments(b, v.FootComment, false)
			}
			b = yamlComments(b, k.FootComment, false)
		}
	case yaml.ScalarNode:
		// An empty document (a lone "---") is null: no entries, and its
		// foot comment is dropped as sops drops it.
		if n.ShortTag() == "!!null" {
			return b, nil
		}
		return nil, errors.New("YAML documents that are values are not supported")
	case yaml.AliasNode:
		var err error
		if b, err = yamlBranch(n.Alias, b, false); err != nil {
			return nil, err
		}
	}
	if !own {
		b = yamlComments(b, n.FootComment, false)
	}
	return b, nil
}

// yamlValue converts a value node: mappings become branches, sequences
// lists (with their items' comments), scalars what yaml decodes them to.
func yamlValue(n *yaml.Node, own bool) (any, error) {
	switch n.Kind {
	case yaml.SequenceNode:
		var l []any
		if !own {
			l = yamlListComments(l, n.HeadComment, false)
			l = yamlListComments(l, n.LineComment, false)
		}
		for _, item := range n.Content {
			l = yamlListComments(l, item.HeadComment, false)
			l = yamlListComments(l, item.LineComment, true)
			v, err := yamlValue(item, true)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
			l = yamlListComments(l, item.FootComment, false)
		}
		if !own {
			l = yamlListComments(l, n.FootComment, false)
		}
		return l, nil
	case yaml.MappingNode:
		return yamlBranch(n, make(sops.TreeBranch, 0), own)
	case yaml.ScalarNode:
		var v any
		_ = n.Decode(&v)
		return v, nil
	case yaml.AliasNode:
		return yamlValue(n.Alias, false)
	case yaml.DocumentNode:
		return nil, errors.New("a YAML document nested in a value")
	}
	return nil, nil
}

// emitYAML writes each branch as a YAML document indented by four spaces,
// with its comments.
func emitYAML(branches sops.TreeBranches) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(4)
	for _, b := range branches {
		m := &yaml.Node{Kind: yaml.MappingNode}
		yamlFillMapping(m, b)
		if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{m}}); err != nil {
			return nil, fmt.Errorf("write YAML: %w", err)
		}
	}
	_ = enc.Close()
	return buf.Bytes(), nil
}

// commentBlock renders comment lines as one YAML comment.
func commentBlock(lines []string) string {
	return "#" + strings.Join(lines, "\n#")
}

// prependHead puts comment lines before n's head comment.
func prependHead(n *yaml.Node, lines []string) {
	if len(lines) == 0 {
		return
	}
	if n.HeadComment != "" {
		n.HeadComment = commentBlock(lines) + "\n" + n.HeadComment
	} else {
		n.HeadComment = commentBlock(lines)
	}
}

// appendComment adds comment lines after the comment *c.
func appendComment(c *string, lines []string) {
	if len(lines) == 0 {
		return
	}
	if *c != "" {
		*c += "\n" + commentBlock(lines)
	} else {
		*c = commentBlock(lines)
	}
}

// yamlNode converts a tree value to a YAML node.
func yamlNode(v any) *yaml.Node {
	switch v := v.(type) {
	case sops.TreeBranch:
		n := &yaml.Node{Kind: yaml.MappingNode}
		yamlFillMapping(n, v)
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		yamlFillSequence(n, v)
		return n
	}
	n := &yaml.Node{}
	_ = n.Encode(v)
	return n
}

// yamlFillMapping adds the entries of b to the mapping node m. Comments
// are held until the next entry: head comments go above its key, inline
// ones after its value; those left at the end go below the last key, or
// above an empty mapping.
func yamlFillMapping(m *yaml.Node, b sops.TreeBranch) {
	var head, line []string
	first := true
	for _, item := range b {
		if c, ok := item.Key.(sops.Comment); ok {
			if c.Inline {
				line = append(line, c.Value)
			} else {
				head = append(head, c.Value)
			}
			continue
		}
		if first {
			prependHead(m, head)
			head, first = nil, false
		}
		k := &yaml.Node{}
		_ = k.Encode(item.Key)
		prependHead(k, head)
		head = nil
		v := yamlNode(item.Value)
		appendComment(&v.LineComment, line)
		line = nil
		m.Content = append(m.Content, k, v)
	}
	rest := append(head, line...)
	if len(rest) == 0 {
		return
	}
	if first {
		prependHead(m, rest)
	} else {
		appendComment(&m.Content[len(m.Content)-2].FootComment, rest)
	}
}

// yamlFillSequence adds the items of l to the sequence node s, placing
// comments as yamlFillMapping does.
func yamlFillSequence(s *yaml.Node, l []any) {
	var head, line []string
	first := true
	for _, item := range l {
		if c, ok := item.(sops.Comment); ok {
			if c.Inline {
				line = append(line, c.Value)
			} else {
				head = append(head, c.Value)
			}
			continue
		}
		if first {
			prependHead(s, head)
			head, first = nil, false
		}
		n := yamlNode(item)
		prependHead(n, head)
		head = nil
		appendComment(&n.LineComment, line)
		line = nil
		s.Content = append(s.Content, n)
	}
	rest := append(head, line...)
	if len(rest) == 0 {
		return
	}
	if first {
		prependHead(s, rest)
	} else {
		appendComment(&s.Content[len(s.Content)-1].FootComment, rest)
	}
}

// --- JSON ---

// errObjectEnd ends the entries of a JSON object.
var errObjectEnd = errors.New("end of JSON object")

// loadJSON reads a JSON document whose top level is an object, keeping key
// order. Integers that fit in 64 bits become int, other numbers float64.
// As with sops, anything after the top-level object is ignored.
func loadJSON(data []byte) (sops.TreeBranch, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("SOPS JSON documents must be objects at the top level")
	}
	return jsonObject(dec)
}

// jsonScalar converts a scalar token; numbers as loadJSON says.
func jsonScalar(tok json.Token) (any, error) {
	n, ok := tok.(json.Number)
	if !ok {
		return tok, nil
	}
	if i, err := n.Int64(); err == nil {
		return int(i), nil
	}
	f, err := n.Float64()
	if err != nil {
		return nil, err
	}
	return f, nil
}

// jsonValue converts the value that starts with tok.
func jsonValue(dec *json.Decoder, tok json.Token) (any, error) {
	switch tok {
	case json.Delim('{'):
		return jsonObject(dec)
	case json.Delim('['):
		return jsonArray(dec)
	}
	if _, ok := tok.(json.Delim); ok {
		return nil, nil // the decoder reports misplaced delimiters itself
	}
	return jsonScalar(tok)
}

// jsonObject reads the entries of an object whose "{" was read. As in
// sops, the input ending inside a value ends the innermost object there,
// without that entry (an input ending where a key is due is an error).
func jsonObject(dec *json.Decoder) (sops.TreeBranch, error) {
	var b sops.TreeBranch
	for {
		item, err := jsonEntry(dec)
		if err == errObjectEnd || err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		b = append(b, item)
	}
}

// jsonEntry reads one key and its value, or errObjectEnd at "}".
func jsonEntry(dec *json.Decoder) (sops.TreeItem, error) {
	tok, err := dec.Token()
	if err != nil && err != io.EOF {
		return sops.TreeItem{}, err
	}
	switch k := tok.(type) {
	case string:
		tok, err := dec.Token()
		if err != nil {
			return sops.TreeItem{}, err
		}
		v, err := jsonValue(dec, tok)
		if err != nil {
			return sops.TreeItem{}, err
		}
		return sops.TreeItem{Key: k, Value: v}, nil
	case json.Delim:
		if k == '}' {
			return sops.TreeItem{}, errObjectEnd
		}
	}
	return sops.TreeItem{}, errors.New("expected a JSON object key")
}

// jsonArray reads the items of an array whose "[" was read.
func jsonArray(dec *json.Decoder) ([]any, error) {
	var l []any
	for {
		tok, err := dec.Token()
		if err != nil {
			return l, err
		}
		if tok == json.Delim(']') {
			return l, nil
		}
		v, err := jsonValue(dec, tok)
		if err != nil {
			return l, err
		}
		l = append(l, v)
	}
}

// emitJSON writes a branch as a JSON object indented with tabs, keys in
// order and comments left out, followed by a newline.
func emitJSON(b sops.TreeBranch) ([]byte, error) {
	var compact bytes.Buffer
	if err := jsonWriteObject(&compact, b); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact.Bytes(), "", "\t"); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// jsonWrite writes a tree value as JSON.
func jsonWrite(w *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case sops.TreeBranch:
		return jsonWriteObject(w, v)
	case []any:
		w.WriteByte('[')
		n := 0
		for _, item := range v {
			if _, ok := item.(sops.Comment); ok {
				continue
			}
			if n > 0 {
				w.WriteByte(',')
			}
			if err := jsonWrite(w, item); err != nil {
				return err
			}
			n++
		}
		w.WriteByte(']')
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("a value of type %T does not encode as JSON", v)
	}
	w.Write(b)
	return nil
}

// jsonWriteObject writes a branch as a JSON object.
func jsonWriteObject(w *bytes.Buffer, b sops.TreeBranch) error {
	w.WriteByte('{')
	n := 0
	for _, item := range b {
		if _, ok := item.Key.(sops.Comment); ok {
			continue
		}
		if n > 0 {
			w.WriteByte(',')
		}
		key, ok := item.Key.(string)
		if !ok {
			return fmt.Errorf("a key of type %T cannot be a JSON object key", item.Key)
		}
		k, _ := json.Marshal(key) // strings always encode
		w.Write(k)
		w.WriteString(": ")
		if err := jsonWrite(w, item.Value); err != nil {
			return err
		}
		n++
	}
	w.WriteByte('}')
	return nil
}

// --- binary ---

// emitBinary returns the string under the "data" key of the only branch.
func emitBinary(branches sops.TreeBranches) ([]byte, error) {
	if len(branches) != 1 {
		return nil, errors.New("a binary document has exactly one tree branch")
	}
	for _, item := range branches[0] {
		if k, ok := item.Key.(string); !ok || k != "data" {
			continue
		}
		s, ok := item.Value.(string)
		if !ok {
			return nil, errors.New("the data entry of a binary document is not a string")
		}
		return []byte(s), nil
	}
	return nil, errors.New("a binary document has no data entry")
}

// --- dotenv ---

// loadDotenv reads KEY=VALUE lines: empty lines are skipped, lines that
// start with "#" are comments, "\n" in a value is a newline. Nothing is
// trimmed or unquoted (a "\r" of a CRLF line stays in the value).
func loadDotenv(data []byte) (sops.TreeBranches, error) {
	var b sops.TreeBranch
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if line[0] == '#' {
			b = append(b, sops.TreeItem{Key: sops.Comment{Value: string(line[1:])}})
			continue
		}
		k, v, ok := bytes.Cut(line, []byte("="))
		if !ok {
			return nil, fmt.Errorf("invalid dotenv document: line %d has no '='", i+1)
		}
		b = append(b, sops.TreeItem{Key: string(k), Value: strings.ReplaceAll(string(v), `\n`, "\n")})
	}
	return sops.TreeBranches{b}, nil
}

// emitDotenv writes a branch as dotenv lines.
func emitDotenv(b sops.TreeBranch) ([]byte, error) {
	var out bytes.Buffer
	for _, item := range b {
		if stores.IsComplexValue(item.Value) {
			return nil, errors.New("a dotenv value cannot be a mapping or a list")
		}
		if c, ok := item.Key.(sops.Comment); ok {
			out.WriteString("#" + c.Value + "\n")
			continue
		}
		var v string
		if s, ok := item.Value.(string); ok {
			v = strings.ReplaceAll(s, "\n", `\n`)
		} else {
			v = stores.ValToString(item.Value)
		}
		fmt.Fprintf(&out, "%s=%s\n", item.Key, v)
	}
	return out.Bytes(), nil
}

// --- INI ---

// iniOptions are the parser options sops reads and writes INI with.
func iniOptions() ini.LoadOptions { return ini.LoadOptions{AllowNonUniqueSections: true} }

// loadINI reads an INI document: one entry per section (the DEFAULT
// section included), each a branch of its keys; a section's comment comes
// first, a key's comment after it.
func loadINI(data []byte) (sops.TreeBranch, error) {
	f, err := ini.LoadSources(iniOptions(), data)
	if err != nil {
		return nil, err
	}
	var b sops.TreeBranch
	for _, sec := range f.Sections() {
		var items sops.TreeBranch
		if sec.Comment != "" {
			items = append(items, sops.TreeItem{Key: sops.Comment{Value: iniComment(sec.Comment)}})
		}
		for _, k := range sec.Keys() {
			items = append(items, sops.TreeItem{Key: k.Name(), Value: k.Value()})
			if k.Comment != "" {
				items = append(items, sops.TreeItem{Key: sops.Comment{Value: iniComment(k.Comment)}})
			}
		}
		b = append(b, sops.TreeItem{Key: sec.Name(), Value: items})
	}
	return b, nil
}

// iniComment strips the comment marker and the spaces after it.
func iniComment(c string) string {
	switch {
	case strings.HasPrefix(c, ";"):
		return strings.TrimLeft(c, "; ")
	case strings.HasPrefix(c, "#"):
		return strings.TrimLeft(c, "# ")
	}
	return c
}

// emitINI writes every top-level entry of the branches as a section.
func emitINI(branches sops.TreeBranches) ([]byte, error) {
	f := ini.Empty(iniOptions())
	f.DeleteSection(ini.DefaultSection)
	for _, b := range branches {
		for _, item := range b {
			if _, ok := item.Key.(sops.Comment); ok {
				continue
			}
			name, ok := item.Key.(string)
			if !ok {
				return nil, fmt.Errorf("an INI section name cannot be of type %T", item.Key)
			}
			sec, err := f.NewSection(name)
			if err != nil {
				return nil, fmt.Errorf("invalid INI section: %w", err)
			}
			entries, ok := item.Value.(sops.TreeBranch)
			if !ok {
				return nil, errors.New("an INI section must be a mapping")
			}
			if len(entries) > 0 {
				if c, ok := entries[0].Key.(sops.Comment); ok {
					sec.Comment = c.Value
					entries = entries[1:]
				}
			}
			var last *ini.Key
			for _, e := range entries {
				if c, ok := e.Key.(sops.Comment); ok {
					if last != nil {
						last.Comment = c.Value
					}
					continue
				}
				k, ok := e.Key.(string)
				if !ok {
					return nil, fmt.Errorf("an INI key cannot be of type %T", e.Key)
				}
				if last, err = sec.NewKey(k, stores.ValToString(e.Value)); err != nil {
					return nil, fmt.Errorf("invalid INI key: %w", err)
				}
			}
		}
	}
	var out bytes.Buffer
	_, _ = f.WriteTo(&out)
	return out.Bytes(), nil
}
