package yamlguard

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// ErrAliasBomb reports a YAML stream whose aliases expand to too many nodes.
var ErrAliasBomb = errors.New("yaml: aliases expand to too many nodes")

// Limits bound the expansion of aliases. The zero value of a field means
// its default.
type Limits struct {
	// MaxExpandedNodes is the most nodes a stream may hold once every alias
	// is expanded. Default 1,000,000.
	MaxExpandedNodes int64
	// MaxRatio is the most expanded nodes per parsed node once the stream
	// expands past 10,000 nodes. Default 100.
	MaxRatio int64
}

const (
	defaultMaxExpanded = 1_000_000
	defaultMaxRatio    = 100
	ratioFloor         = 10_000
)

// ExpansionError describes a refused stream.
type ExpansionError struct {
	// Parsed is the number of nodes in the stream as written.
	Parsed int64
	// Expanded is a lower bound of the nodes the stream expands to.
	Expanded int64
	// Limit is the bound that was exceeded.
	Limit int64
}

// Error implements error.
func (e *ExpansionError) Error() string {
	return fmt.Sprintf("%v: %d nodes as written expand to more than %d", ErrAliasBomb, e.Parsed, e.Limit)
}

// Unwrap returns ErrAliasBomb.
func (e *ExpansionError) Unwrap() error { return ErrAliasBomb }

// Check returns an *ExpansionError when the YAML stream in data expands
// beyond the default limits. Streams that do not parse are not its
// concern: it returns nil and leaves the syntax error to the real decoder.
// A stream without anchors is accepted without parsing.
func Check(data []byte) error { return Limits{}.Check(data) }

// Check is the package-level Check with l's limits.
func (l Limits) Check(data []byte) (err error) {
	if bytes.IndexByte(data, '&') < 0 {
		return nil // no anchor, so no alias can refer to anything
	}
	maxExp := l.MaxExpandedNodes
	if maxExp <= 0 {
		maxExp = defaultMaxExpanded
	}
	ratio := l.MaxRatio
	if ratio <= 0 {
		ratio = defaultMaxRatio
	}
	defer func() {
		if r := recover(); r != nil {
			err = nil // a parser panic is a syntax problem for the real decoder
		}
	}()
	c := counter{memo: map[*yaml.Node]int64{}, limit: maxExp}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var parsed, expanded int64
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return nil
		}
		parsed += countParsed(&doc)
		n, ok := c.size(&doc)
		expanded += n
		limit := maxExp
		if r := parsed * ratio; expanded > ratioFloor && r < limit {
			limit = max(r, ratioFloor)
		}
		if !ok || expanded > limit {
			return &ExpansionError{Parsed: parsed, Expanded: expanded, Limit: limit}
		}
	}
}

// countParsed counts the nodes as written (aliases count once).
func countParsed(n *yaml.Node) int64 {
	var total int64 = 1
	for _, ch := range n.Content {
		total += countParsed(ch)
	}
	return total
}

// counter computes expanded sizes with memoisation, so a stream of
// nested aliases is measured in time linear in its written size.
type counter struct {
	memo  map[*yaml.Node]int64
	limit int64
}

const inProgress = -1

// size returns the expanded node count of n, saturating at the limit; ok is
// false when the limit was passed or an alias refers to its own ancestor.
func (c *counter) size(n *yaml.Node) (int64, bool) {
	if n == nil {
		return 0, true
	}
	if v, seen := c.memo[n]; seen {
		if v == inProgress {
			return c.limit + 1, false // an alias cycle expands forever
		}
		return v, v <= c.limit
	}
	c.memo[n] = inProgress
	var total int64 = 1
	if n.Kind == yaml.AliasNode {
		s, ok := c.size(n.Alias)
		if !ok {
			c.memo[n] = c.limit + 1
			return c.limit + 1, false
		}
		total = s
	}
	for _, ch := range n.Content {
		s, ok := c.size(ch)
		total += s
		if !ok || total > c.limit {
			c.memo[n] = c.limit + 1
			return c.limit + 1, false
		}
	}
	c.memo[n] = total
	return total, true
}

// AliasBomb returns YAML mapping entries x0…x<depth>, each a list of width
// aliases of the one before: a few hundred bytes that expand to
// width^depth nodes. Tests use it to try the attack Check refuses.
func AliasBomb(depth, width int) string {
	var b strings.Builder
	b.WriteString("x0: &x0 [lol]\n")
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, "x%d: &x%d [", i, i)
		for j := 0; j < width; j++ {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "*x%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}
