package kustomize

import (
	"unicode/utf8"
)

// globPattern is a compiled path.Match pattern for the trim operators
// (${v#p} ${v##p} ${v%p} ${v%%p}). It finds the matching prefixes (or
// suffixes) of a value in one pass, simulating the pattern's automaton with
// one bit per pattern position: the work is the value's length times the
// pattern's length / 64, where matching every prefix with path.Match would
// be quadratic in the value's length or worse.
//
// Matching steps over runes (an invalid UTF-8 byte is one unit), so a
// prefix or suffix never ends inside a rune. '*' and '?' do not match '/',
// as with path.Match.
type globPattern struct {
	toks  []globToken
	words int      // uint64 words in a state bitset (one bit per position 0..len(toks))
	stars []uint64 // positions holding '*'

	ascii [128][]uint64       // unit masks of ASCII bytes, filled lazily
	other map[string][]uint64 // unit masks of other units, bounded
}

type globKind uint8

const (
	globLit   globKind = iota // one unit, compared byte for byte
	globAny                   // ?: any unit but '/'
	globClass                 // [...] or [^...]
	globStar                  // *: any run of units without '/'
)

type globToken struct {
	kind   globKind
	lit    string    // globLit: the unit's bytes
	neg    bool      // globClass: [^...]
	ranges [][2]rune // globClass: inclusive ranges
}

// maxGlobMaskCache bounds the cached masks of non-ASCII units.
const maxGlobMaskCache = 1024

// compileGlob parses pattern with path.Match's syntax. It reports false
// for a pattern path.Match rejects with ErrBadPattern. With reverse, the
// tokens are reversed, to match suffixes walking the value backwards.
func compileGlob(pattern string, reverse bool) (*globPattern, bool) {
	var toks []globToken
	p := pattern
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			toks = append(toks, globToken{kind: globStar})
		case '?':
			p = p[1:]
			toks = append(toks, globToken{kind: globAny})
		case '[':
			p = p[1:]
			t := globToken{kind: globClass}
			if len(p) > 0 && p[0] == '^' {
				t.neg = true
				p = p[1:]
			}
			for {
				if len(p) > 0 && p[0] == ']' && len(t.ranges) > 0 {
					p = p[1:]
					break
				}
				lo, rest, ok := globEsc(p)
				if !ok {
					return nil, false
				}
				hi := lo
				p = rest
				if p[0] == '-' {
					if hi, rest, ok = globEsc(p[1:]); !ok {
						return nil, false
					}
					p = rest
				}
				t.ranges = append(t.ranges, [2]rune{lo, hi})
			}
			toks = append(toks, t)
		case '\\':
			p = p[1:]
			if len(p) == 0 {
				return nil, false
			}
			fallthrough
		default:
			_, n := utf8.DecodeRuneInString(p)
			toks = append(toks, globToken{kind: globLit, lit: p[:n]})
			p = p[n:]
		}
	}
	if reverse {
		for i, j := 0, len(toks)-1; i < j; i, j = i+1, j-1 {
			toks[i], toks[j] = toks[j], toks[i]
		}
	}
	g := &globPattern{toks: toks, words: (len(toks) + 64) / 64}
	g.stars = make([]uint64, g.words)
	for i, t := range toks {
		if t.kind == globStar {
			g.stars[i/64] |= 1 << (i % 64)
		}
	}
	return g, true
}

// globEsc reads one class character, as path.Match does: '-' and ']' are
// not allowed unescaped, nor an invalid rune, nor the end of the pattern.
func globEsc(p string) (r rune, rest string, ok bool) {
	if len(p) == 0 || p[0] == '-' || p[0] == ']' {
		return 0, "", false
	}
	if p[0] == '\\' {
		p = p[1:]
		if len(p) == 0 {
			return 0, "", false
		}
	}
	r, n := utf8.DecodeRuneInString(p)
	if r == utf8.RuneError && n == 1 {
		return 0, "", false
	}
	rest = p[n:]
	return r, rest, len(rest) > 0
}

func (t *globToken) matches(unit string) bool {
	switch t.kind {
	case globLit:
		return t.lit == unit
	case globAny:
		return unit[0] != '/'
	case globClass:
		r, _ := utf8.DecodeRuneInString(unit)
		in := false
		for _, rg := range t.ranges {
			if rg[0] <= r && r <= rg[1] {
				in = true
				break
			}
		}
		return in != t.neg
	}
	return false
}

// mask returns the positions whose token consumes unit (stars excluded),
// and the work spent computing it.
func (g *globPattern) mask(unit string) ([]uint64, int) {
	if len(unit) == 1 && unit[0] < 0x80 {
		if m := g.ascii[unit[0]]; m != nil {
			return m, 0
		}
	} else if m, ok := g.other[unit]; ok {
		return m, 0
	}
	m := make([]uint64, g.words)
	for i := range g.toks {
		if g.toks[i].kind != globStar && g.toks[i].matches(unit) {
			m[i/64] |= 1 << (i % 64)
		}
	}
	if len(unit) == 1 && unit[0] < 0x80 {
		g.ascii[unit[0]] = m
	} else if len(g.other) < maxGlobMaskCache {
		if g.other == nil {
			g.other = map[string][]uint64{}
		}
		g.other[unit] = m
	}
	return m, len(g.toks)
}

// closeStars adds, for each active '*' position, the position after it
// (a star may match the empty run).
func (g *globPattern) closeStars(d []uint64) {
	var carry uint64
	for w := range d {
		s := d[w] & g.stars[w]
		d[w] |= s<<1 | carry
		carry = s >> 63
	}
}

// step advances the state d over one unit into next, and reports whether
// any position is still active.
func (g *globPattern) step(d, next, m []uint64, slash bool) bool {
	var carry uint64
	alive := false
	for w := range d {
		x := d[w] & m[w]
		v := x<<1 | carry
		carry = x >> 63
		if !slash {
			v |= d[w] & g.stars[w]
		}
		next[w] = v
	}
	g.closeStars(next)
	for _, v := range next {
		if v != 0 {
			alive = true
			break
		}
	}
	return alive
}

func (g *globPattern) accepting(d []uint64) bool {
	n := len(g.toks)
	return d[n/64]&(1<<(n%64)) != 0
}

// trim removes from s the shortest (or longest) non-empty prefix matching
// the pattern, or with suffix the shortest (or longest) suffix. budget is
// decremented by the work done; trim reports false when it runs out.
func (g *globPattern) trim(s string, suffix, longest bool, budget *int) (string, bool) {
	d := make([]uint64, g.words)
	next := make([]uint64, g.words)
	d[0] = 1
	g.closeStars(d)
	cut := -1 // bytes of s matched
	for done := 0; done < len(s); {
		var unit string
		if suffix {
			_, n := utf8.DecodeLastRuneInString(s[:len(s)-done])
			unit = s[len(s)-done-n : len(s)-done]
		} else {
			_, n := utf8.DecodeRuneInString(s[done:])
			unit = s[done : done+n]
		}
		m, work := g.mask(unit)
		*budget -= work + g.words
		if *budget < 0 {
			return s, false
		}
		alive := g.step(d, next, m, unit == "/")
		d, next = next, d
		done += len(unit)
		if g.accepting(d) {
			cut = done
			if !longest {
				break
			}
		}
		if !alive {
			break
		}
	}
	if cut < 0 {
		return s, true
	}
	if suffix {
		return s[:len(s)-cut], true
	}
	return s[cut:], true
}
