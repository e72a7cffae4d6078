package yamlguard_test

import (
	"errors"
	"testing"

	"github.com/gitopskit/gitopskit/internal/yamlguard"
)

func bomb(depth, width int) string { return yamlguard.AliasBomb(depth, width) }

func TestCheck(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		refused bool
	}{
		{"plain", "a: 1\nb: [1, 2, 3]\n", false},
		{"no anchors but ampersand in text", "a: 'x & y'\n", false},
		{"ordinary anchors", "base: &b {cpu: 1, mem: 2}\nx: *b\ny: *b\nz: *b\n", false},
		{"merge keys", "base: &b {cpu: 1}\nx:\n  <<: *b\n  mem: 2\n", false},
		{"small fan-out", bomb(3, 4), false},
		{"billion laughs", bomb(9, 9), true},
		{"deep and narrow", bomb(40, 2), true},
		{"wide", bomb(2, 2000), true},
		{"cycle", "a: &a [*a]\n", true},
		{"second document", "a: 1\n---\n" + bomb(9, 9), true},
		{"syntax error", "a: &a [\n", false},
		{"undefined alias", "a: *nope\n", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := yamlguard.Check([]byte(tc.in))
			if got := errors.Is(err, yamlguard.ErrAliasBomb); got != tc.refused {
				t.Fatalf("refused = %v (err %v), want %v", got, err, tc.refused)
			}
			var ee *yamlguard.ExpansionError
			if tc.refused && (!errors.As(err, &ee) || ee.Parsed <= 0) {
				t.Fatalf("error %v is not an ExpansionError with counts", err)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	in := []byte(bomb(3, 10)) // about 1,100 nodes from 40
	if err := yamlguard.Check(in); err != nil {
		t.Fatalf("default limits refuse a modest stream: %v", err)
	}
	if err := (yamlguard.Limits{MaxExpandedNodes: 500}).Check(in); !errors.Is(err, yamlguard.ErrAliasBomb) {
		t.Fatalf("MaxExpandedNodes 500 accepted a stream of ~1,100 nodes: %v", err)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte(bomb(3, 3)))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("x: &x {a: *x}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = yamlguard.Check(data) // must return, quickly, without panicking
	})
}
