package kustomize

import (
	"bytes"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/konfig"

	"github.com/gitopskit/gitopskit/source"
)

// Remote references are refused where kustomize reads them, whatever field
// holds them: every string value of a kustomization file, and of any
// builtin plugin configuration (generators, transformers, validators, inline
// or in files), must not be something kustomize's loader would fetch. The
// only values not inspected are those kustomize never loads: annotations,
// literals, inline patch bodies, image overrides and Helm chart settings
// (kustomize refuses Helm inflation on its own, with its own message).
var valueOnlyKeys = map[string]bool{
	"annotations":                 true,
	"commonAnnotations":           true,
	"literals":                    true,
	"patch":                       true,
	"images":                      true,
	"helmCharts":                  true,
	"helmGlobals":                 true,
	"helmChartInflationGenerator": true,
}

// gitUser matches the user@ prefix that makes kustomize treat a reference as
// an scp-like git address (deploy@internal-git:org/repo), whatever the host.
var gitUser = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// isRemote reports whether kustomize's loader would go to the network for
// ref: a URL of any scheme, an scp-like or user@ git address, a github.com
// shorthand, a `git::` prefix in any case, or an http(s) URL without slashes.
func isRemote(ref string) bool {
	ref = strings.TrimSpace(ref)
	if len(ref) >= 5 && strings.EqualFold(ref[:5], "git::") {
		return true
	}
	if strings.Contains(ref, "://") || gitUser.MatchString(ref) {
		return true
	}
	lower := strings.ToLower(ref)
	if strings.HasPrefix(lower, "github.com/") || strings.HasPrefix(lower, "github.com:") {
		return true
	}
	if u, err := url.Parse(ref); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		return true
	}
	return false
}

// remoteRef is a remote reference found in a file, with where it was.
type remoteRef struct {
	field, value string
}

// findRemote returns the first remote reference in the YAML stream data, or
// false. A stream that does not parse has none (kustomize reports the syntax
// error itself).
func findRemote(data []byte, everyDoc bool) (remoteRef, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return remoteRef{}, false
		}
		if !everyDoc && !isBuiltinConfig(&doc) {
			continue
		}
		var found remoteRef
		_, stop, _ := walkValues(&doc, "", "", 0, func(n *yaml.Node, field, _ string) (bool, bool, error) {
			v := n.Value
			_, p, hasKey := strings.Cut(v, "=") // files and envs entries may be key=path
			if isRemote(v) || hasKey && isRemote(p) {
				found = remoteRef{field: field, value: v}
				return false, true, nil
			}
			return false, false, nil
		})
		if stop {
			return found, true
		}
	}
}

// isBuiltinConfig reports whether a document configures a builtin kustomize
// plugin (apiVersion: builtin), the only plugins a build runs.
func isBuiltinConfig(doc *yaml.Node) bool {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "apiVersion" {
			v := n.Content[i+1].Value
			return v == "builtin" || strings.HasPrefix(v, "builtin/")
		}
	}
	return false
}

// maxInlineDepth bounds how deeply inline YAML strings are re-parsed.
const maxInlineDepth = 4

// visitFunc sees one scalar value kustomize may load, with its field path
// and the top-level (or file-typed, see remoteFileFields) key it sits under.
// It may change n.Value and then reports changed; stop ends the walk.
type visitFunc func(n *yaml.Node, field, top string) (changed, stop bool, err error)

// walkValues calls visit for every scalar value below n, except those under
// valueOnlyKeys. A multi-line scalar holding YAML (an inline plugin
// configuration: generators: - |\n ...) is walked too, and re-encoded when
// visit changed something inside it.
func walkValues(n *yaml.Node, field, top string, inline int, visit visitFunc) (changed, stop bool, err error) {
	each := func(c *yaml.Node, field, top string) bool {
		ch, st, e := walkValues(c, field, top, inline, visit)
		changed = changed || ch
		stop, err = st, e
		return st || e != nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if each(c, field, top) {
				return
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if valueOnlyKeys[k] {
				continue
			}
			t := top
			if t == "" || remoteFileFields[k] {
				t = k
			}
			if each(n.Content[i+1], joinField(field, k), t) {
				return
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if each(c, field+"["+strconv.Itoa(i)+"]", top) {
				return
			}
		}
	case yaml.ScalarNode:
		if strings.Contains(n.Value, "\n") && inline < maxInlineDepth {
			var sub yaml.Node
			if yaml.Unmarshal([]byte(n.Value), &sub) == nil && len(sub.Content) == 1 &&
				(sub.Content[0].Kind == yaml.MappingNode || sub.Content[0].Kind == yaml.SequenceNode) {
				ch, st, e := walkValues(&sub, field, top, inline+1, visit)
				if ch && e == nil {
					b, merr := yaml.Marshal(&sub)
					if merr != nil {
						return false, true, merr
					}
					n.Value, n.Style = string(b), yaml.LiteralStyle
				}
				return ch, st, e
			}
		}
		return visit(n, field, top)
	}
	return
}

func joinField(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// isKustomizationName reports whether kustomize reads a file of this name
// as a kustomization.
func isKustomizationName(name string) bool {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if n == name {
			return true
		}
	}
	return false
}

// remoteGuard returns the read hook that refuses remote references in
// kustomization files and builtin plugin configurations.
func remoteGuard(fsys *confinedFS) readHook {
	return func(abs string, data []byte) error {
		kust := isKustomizationName(filepath.Base(abs))
		if !kust && !bytes.Contains(data, []byte("builtin")) {
			return nil
		}
		if r, ok := findRemote(data, kust); ok {
			return &PathError{Path: fsys.rel(abs), Err: fmt.Errorf("%w: %s: %q", ErrRemoteBase, r.field, source.Redact(r.value))}
		}
		return nil
	}
}
