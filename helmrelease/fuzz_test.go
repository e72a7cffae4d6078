package helmrelease_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/helmrelease"
)

// FuzzMergeValues: merging YAML documents never panics, never modifies its
// inputs, is idempotent, and every top-level key of the second document
// ends up in the result with the second document's value unless both are
// maps.
func FuzzMergeValues(f *testing.F) {
	f.Add("a: 1\nm: {x: 1}", "m: {y: 2}\nl: [1]")
	f.Add("a: {b: {c: 1}}", "a: {b: null}")
	f.Add("a: [1, {b: 2}]", "a: {b: 3}")
	f.Add("x: &a {y: 1}\nz: *a", "z: {w: 2}")
	f.Fuzz(func(t *testing.T, da, db string) {
		a, err := helmrelease.ReadValues([]byte(da))
		if err != nil {
			return
		}
		b, err := helmrelease.ReadValues([]byte(db))
		if err != nil {
			return
		}
		ac, bc := snapshot(t, a), snapshot(t, b)
		got := helmrelease.MergeValues(a, b)
		if snapshot(t, a) != ac || snapshot(t, b) != bc {
			t.Fatal("MergeValues modified an input")
		}
		if snapshot(t, helmrelease.MergeValues(got, b)) != snapshot(t, got) {
			t.Fatal("merging b twice changed the result")
		}
		for k, bv := range b {
			_, bm := bv.(map[string]any)
			_, am := a[k].(map[string]any)
			if bm && am {
				continue
			}
			if !reflect.DeepEqual(got[k], bv) {
				t.Fatalf("key %q: got %v, want b's %v", k, got[k], bv)
			}
		}
		if helmrelease.DigestValues(got) != helmrelease.DigestValues(helmrelease.MergeValues(map[string]any{}, got)) {
			t.Fatal("a copy digests differently")
		}
	})
}

func snapshot(t *testing.T, v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// FuzzComposeValues: arbitrary data, keys and target paths never panic,
// and errors never quote the data.
func FuzzComposeValues(f *testing.F) {
	f.Add("a: 1", "a.b", false, "v")
	f.Add("- x", "a[0]", true, "x,y")
	f.Add("{", "a[99999]", false, "{1,2}")
	f.Add("a: !!binary zzz", `a\.b`, false, `"q"`)
	f.Fuzz(func(t *testing.T, doc, path string, literal bool, value string) {
		const marker = "ZQXJ"
		data := map[string][]byte{"values.yaml": []byte(doc + marker), "v": []byte(value + marker)}
		g := helmrelease.ValuesData{{Kind: "Secret", Name: "s"}: data}
		refs := []helmrelease.ValuesReference{{Kind: "Secret", Name: "s"}}
		if path != "" {
			refs = append(refs, helmrelease.ValuesReference{Kind: "Secret", Name: "s", ValuesKey: "v", TargetPath: path, Literal: literal})
		}
		for _, r := range refs {
			got, err := helmrelease.ComposeValues(context.Background(), helmrelease.ValuesOptions{From: []helmrelease.ValuesReference{r}, Getter: g, Values: map[string]any{"i": []any{1}}})
			if err != nil {
				if strings.Contains(err.Error(), marker) && !strings.Contains(path, marker) {
					t.Fatalf("error quotes the data: %v", err)
				}
				var ve *helmrelease.ValuesError
				if !errors.As(err, &ve) {
					t.Fatalf("error %T is not a ValuesError", err)
				}
				continue
			}
			if got.Values == nil || !strings.HasPrefix(got.Digest, "sha256:") {
				t.Fatalf("bad result %+v", got)
			}
		}
	})
}

// FuzzLoadChart: any archive loads or fails without panicking, and a
// chart that loads renders or fails without panicking.
func FuzzLoadChart(f *testing.F) {
	dir := f.TempDir()
	out := helmCmd(f, "package", "testdata/app", "-d", dir)
	tgz := strings.TrimSpace(string(out[bytes.LastIndexByte(bytes.TrimSpace(out), ' ')+1:]))
	data, err := os.ReadFile(tgz)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add([]byte{0x1f, 0x8b, 0x08, 0x00})
	f.Fuzz(func(t *testing.T, archive []byte) {
		ch, err := helmrelease.LoadChart(bytes.NewReader(archive))
		if err != nil {
			return
		}
		_, _ = helmrelease.Render(context.Background(), ch, helmrelease.RenderOptions{})
	})
}
