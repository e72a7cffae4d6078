package fluxscheme_test

import (
	"strings"
	"testing"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gitopskit/gitopskit/examples/fluxscheme"
)

func TestWatchLabelSelector(t *testing.T) {
	for _, tc := range []struct {
		selector string
		match    map[string]string
		miss     map[string]string
	}{
		{"", map[string]string{"any": "thing"}, nil},
		{"sharding.fluxcd.io/key=shard1", map[string]string{fluxscheme.ShardKeyLabel: "shard1"}, map[string]string{fluxscheme.ShardKeyLabel: "shard2"}},
		{"!sharding.fluxcd.io/key", map[string]string{"team": "a"}, map[string]string{fluxscheme.ShardKeyLabel: "shard1"}},
		{"sharding.fluxcd.io/key in (shard1,shard2)", map[string]string{fluxscheme.ShardKeyLabel: "shard2"}, map[string]string{}},
		{"team=a,tier notin (web)", map[string]string{"team": "a", "tier": "db"}, map[string]string{"team": "a", "tier": "web"}},
	} {
		sel, err := fluxscheme.WatchLabelSelector(tc.selector)
		if err != nil {
			t.Errorf("WatchLabelSelector(%q): %v", tc.selector, err)
			continue
		}
		if !sel.Matches(labels.Set(tc.match)) {
			t.Errorf("%q does not match %v", tc.selector, tc.match)
		}
		if tc.miss != nil && sel.Matches(labels.Set(tc.miss)) {
			t.Errorf("%q matches %v", tc.selector, tc.miss)
		}
	}
}

func TestWatchLabelSelectorInvalid(t *testing.T) {
	for _, s := range []string{"sharding.fluxcd.io/key in shard1", "!", "a=b=c", "key==x y", "-bad-key=1", "tier!=web"} {
		_, err := fluxscheme.WatchLabelSelector(s)
		if err == nil {
			t.Errorf("WatchLabelSelector(%q) succeeded, want an error", s)
			continue
		}
		if !strings.Contains(err.Error(), `"`+s+`"`) {
			t.Errorf("error %q does not quote the selector %q", err, s)
		}
		if _, err := fluxscheme.WatchByObject(s); err == nil {
			t.Errorf("WatchByObject(%q) succeeded, want an error", s)
		}
	}
}

func TestWatchByObject(t *testing.T) {
	m, err := fluxscheme.WatchByObject("")
	if err != nil || m != nil {
		t.Fatalf("WatchByObject(\"\") = %v, %v; want nil, nil", m, err)
	}
	m, err = fluxscheme.WatchByObject("!" + fluxscheme.ShardKeyLabel)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != len(fluxscheme.ReconciledObjects()) {
		t.Errorf("%d kinds filtered, want every reconciled kind (%d)", len(m), len(fluxscheme.ReconciledObjects()))
	}
	s, err := fluxscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	for o, b := range m {
		if _, _, err := s.ObjectKinds(o); err != nil {
			t.Errorf("%T is not in the scheme: %v", o, err)
		}
		if b.Label.String() != "!"+fluxscheme.ShardKeyLabel {
			t.Errorf("%T: selector %q", o, b.Label)
		}
	}
	m, err = fluxscheme.WatchByObject("sharding.fluxcd.io/key=shard1", &sourcev1.GitRepository{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 {
		t.Errorf("%d kinds filtered, want only GitRepository", len(m))
	}
}
