package helmrelease_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"filippo.io/age"
	"github.com/google/go-cmp/cmp"
	goyaml "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/kustomize"
	"github.com/gitopskit/gitopskit/kustomize/sopsdecrypt"
)

func cm(name string, kv ...string) (helmrelease.ObjectKey, map[string][]byte) {
	return obj("ConfigMap", name, kv...)
}

func obj(kind, name string, kv ...string) (helmrelease.ObjectKey, map[string][]byte) {
	data := map[string][]byte{}
	for i := 0; i+1 < len(kv); i += 2 {
		data[kv[i]] = []byte(kv[i+1])
	}
	return helmrelease.ObjectKey{Kind: kind, Name: name}, data
}

func objects(pairs ...any) helmrelease.ValuesData {
	d := helmrelease.ValuesData{}
	for i := 0; i+1 < len(pairs); i += 2 {
		d[pairs[i].(helmrelease.ObjectKey)] = pairs[i+1].(map[string][]byte)
	}
	return d
}

// norm makes numbers comparable (JSON round trip).
func norm(t testing.TB, v map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func y(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m
}

// TestComposeValues checks Flux's composition rules, case by case.
func TestComposeValues(t *testing.T) {
	k1, d1 := cm("base", "values.yaml", "a: 1\nm:\n  x: 1\n  y: 1\nlist: [1, 2]\n", "other.yaml", "a: 2\n", "flat", "v")
	k2, d2 := obj("Secret", "sec", "values.yaml", "m:\n  y: 2\n", "token", "abc,def", "quoted", `"123"`, "num", "123", "json", `{"k": [1]}`)
	getter := objects(k1, d1, k2, d2)
	tests := []struct {
		name   string
		opts   helmrelease.ValuesOptions
		want   string
		reason error
	}{
		{name: "empty", want: "{}"},
		{name: "inline only", opts: helmrelease.ValuesOptions{Values: y(t, "a: 1")}, want: "a: 1"},
		{
			name: "references merge in order, maps key by key, lists replaced",
			opts: helmrelease.ValuesOptions{From: []helmrelease.ValuesReference{
				{Kind: "ConfigMap", Name: "base"},
				{Kind: "Secret", Name: "sec"},
				{Kind: "ConfigMap", Name: "base", ValuesKey: "other.yaml"},
			}},
			want: "a: 2\nm: {x: 1, y: 2}\nlist: [1, 2]",
		},
		{
			name: "inline values win over references",
			opts: helmrelease.ValuesOptions{
				From:   []helmrelease.ValuesReference{{Kind: "ConfigMap", Name: "base"}},
				Values: y(t, "a: 9\nlist: [3]\nm: {z: 1}"),
			},
			want: "a: 9\nm: {x: 1, y: 1, z: 1}\nlist: [3]",
		},
		{
			name: "target path typed as --set types it",
			opts: helmrelease.ValuesOptions{From: []helmrelease.ValuesReference{
				{Kind: "Secret", Name: "sec", ValuesKey: "num", TargetPath: "nn.num"},
				{Kind: "Secret", Name: "sec", ValuesKey: "quoted", TargetPath: "nn.quoted"},
			}},
			want: "nn: {num: 123, quoted: '123'}",
		},
		{
			name: "target path splits commas unless literal",
			opts: helmrelease.ValuesOptions{From: []helmrelease.ValuesReference{
				{Kind: "Secret", Name: "sec", ValuesKey: "json", TargetPath: "lit", Literal: true},
				{Kind: "Secret", Name: "sec", ValuesKey: "token", TargetPath: "tok", Literal: true},
			}},
			want: "lit: '{\"k\": [1]}'\ntok: 'abc,def'",
		},
		{
			name: "target path writes into what only inline values hold, as Flux",
			opts: helmrelease.ValuesOptions{
				From:   []helmrelease.ValuesReference{{Kind: "ConfigMap", Name: "base", ValuesKey: "flat", TargetPath: "list[1].name"}, {Kind: "ConfigMap", Name: "base", ValuesKey: "flat", TargetPath: "a"}},
				Values: y(t, "list: [{name: x}, {name: w, keep: true}]\na: inline"),
			},
			want: "list: [{name: x}, {name: v, keep: true}]\na: inline",
		},
		{
			name: "inline values win over a target path into a map references hold",
			opts: helmrelease.ValuesOptions{
				From:   []helmrelease.ValuesReference{{Kind: "ConfigMap", Name: "base"}, {Kind: "ConfigMap", Name: "base", ValuesKey: "flat", TargetPath: "m.x"}},
				Values: y(t, "m: {x: inline}"),
			},
			want: "a: 1\nm: {x: inline, y: 1}\nlist: [1, 2]",
		},
		{
			name: "target path entries override earlier references",
			opts: helmrelease.ValuesOptions{From: []helmrelease.ValuesReference{
				{Kind: "ConfigMap", Name: "base"},
				{Kind: "ConfigMap", Name: "base", ValuesKey: "flat", TargetPath: "m.x"},
			}},
			want: "a: 1\nm: {x: v, y: 1}\nlist: [1, 2]",
		},
		{
			name: "optional tolerates an absent object and an absent key",
			opts: helmrelease.ValuesOptions{From: []helmrelease.ValuesReference{
				{Kind: "ConfigMap", Name: "missing", Optional: true},
				{Kind: "ConfigMap", Name: "base", ValuesKey: "nope", Optional: true},
				{Kind: "ConfigMap", Name: "base", ValuesKey: "other.yaml"},
			}},
			want: "a: 2",
		},
		{
			name: "files first, in order, references over them",
			opts: helmrelease.ValuesOptions{
				Files: []helmrelease.ValuesFile{{Path: "one.yaml", Data: []byte("a: 1\nf: 1")}, {Path: "two.yaml", Data: []byte("f: 2\ng: 2")}},
				From:  []helmrelease.ValuesReference{{Kind: "ConfigMap", Name: "base", ValuesKey: "other.yaml"}},
			},
			want: "a: 2\nf: 2\ng: 2",
		},
		{name: "absent object", opts: helmrelease.ValuesOptions{From: []helmrelease.ValuesReference{{Kind: "ConfigMap", Name: "missing"}}}, reason: helmrelease.ErrNotFound},
		{name: "absent key", opts: helmrelease.ValuesOptions{From: []helmrelease.ValuesReference{{Kind: "Secret", Name: "sec", ValuesKey: "x"}}}, reason: helmrelease.ErrKeyNotFound},
		{name: "unsupported kind", opts: helmrelease.ValuesOptions{From: []helmrelease.ValuesReference{{Kind: "Pod", Name: "x", Optional: true}}}, reason: helmrelease.ErrUnsupportedKind},
		{name: "not a mapping", opts: helmrelease.ValuesOptions{From: []helmrelease.ValuesReference{{Kind: "Secret", Name: "sec", ValuesKey: "token"}}}, reason: helmrelease.ErrValuesRead},
		{name: "bad target path", opts: helmrelease.ValuesOptions{From: []helmrelease.ValuesReference{{Kind: "Secret", Name: "sec", ValuesKey: "token", TargetPath: "a[999999]"}}}, reason: helmrelease.ErrValueMerge},
		{name: "optional does not tolerate a bad document", opts: helmrelease.ValuesOptions{From: []helmrelease.ValuesReference{{Kind: "Secret", Name: "sec", ValuesKey: "token", Optional: true}}}, reason: helmrelease.ErrValuesRead},
		{name: "bad file", opts: helmrelease.ValuesOptions{Files: []helmrelease.ValuesFile{{Path: "f.yaml", Data: []byte("- a")}}}, reason: helmrelease.ErrValuesRead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opts.From != nil {
				tt.opts.Getter = getter
			}
			got, err := helmrelease.ComposeValues(context.Background(), tt.opts)
			if tt.reason != nil {
				if !errors.Is(err, tt.reason) {
					t.Fatalf("error %v, want %v", err, tt.reason)
				}
				var ve *helmrelease.ValuesError
				if !errors.As(err, &ve) {
					t.Fatalf("error %T is not a *ValuesError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(norm(t, y(t, tt.want)), norm(t, got.Values)); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			if got.Digest != helmrelease.DigestValues(got.Values) {
				t.Errorf("digest %s does not match the values", got.Digest)
			}
		})
	}
}

// TestComposeValuesErrorsNeverQuoteValues: errors name the reference and
// key, not the data, even where Helm's own parsers would quote it.
func TestComposeValuesErrorsNeverQuoteValues(t *testing.T) {
	const secret = "hunter2-SECRET"
	k, d := obj("Secret", "creds", "values.yaml", "key: "+secret+"\n  bad: [", "list", "- "+secret, "scalar", secret, "set", secret+",x")
	g := objects(k, d)
	refs := []helmrelease.ValuesReference{
		{Kind: "Secret", Name: "creds"},
		{Kind: "Secret", Name: "creds", ValuesKey: "list"},
		{Kind: "Secret", Name: "creds", ValuesKey: "scalar"},
		{Kind: "Secret", Name: "creds", ValuesKey: "set", TargetPath: "a"},
		{Kind: "Secret", Name: "creds", ValuesKey: "scalar", TargetPath: "a[999999]"},
	}
	for _, r := range refs {
		_, err := helmrelease.ComposeValues(context.Background(), helmrelease.ValuesOptions{From: []helmrelease.ValuesReference{r}, Getter: g})
		if err == nil {
			t.Fatalf("%+v: no error", r)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%+v: error quotes the value: %v", r, err)
		}
		if !strings.Contains(err.Error(), `"creds"`) || !strings.Contains(err.Error(), r.Key()) {
			t.Errorf("%+v: error does not name the reference and key: %v", r, err)
		}
	}
}

// countingGetter counts reads and fails with a transient error for one
// name.
type countingGetter struct {
	helmrelease.ValuesData
	calls map[string]int
}

var errTransient = errors.New("connection refused")

func (g *countingGetter) GetValuesData(ctx context.Context, kind, name string) (map[string][]byte, error) {
	g.calls[kind+"/"+name]++
	if name == "flaky" {
		return nil, errTransient
	}
	return g.ValuesData.GetValuesData(ctx, kind, name)
}

// TestComposeValuesReadsEachObjectOnce and optional tolerates only
// not-found.
func TestComposeValuesReadsEachObjectOnce(t *testing.T) {
	k, d := cm("base", "values.yaml", "a: 1", "b", "2")
	g := &countingGetter{ValuesData: objects(k, d), calls: map[string]int{}}
	_, err := helmrelease.ComposeValues(context.Background(), helmrelease.ValuesOptions{Getter: g, From: []helmrelease.ValuesReference{
		{Kind: "ConfigMap", Name: "base"}, {Kind: "ConfigMap", Name: "base", ValuesKey: "b", TargetPath: "b"},
		{Kind: "ConfigMap", Name: "gone", Optional: true}, {Kind: "ConfigMap", Name: "gone", Optional: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"ConfigMap/base": 1, "ConfigMap/gone": 1}, g.calls); diff != "" {
		t.Errorf("reads (-want +got):\n%s", diff)
	}
	_, err = helmrelease.ComposeValues(context.Background(), helmrelease.ValuesOptions{Getter: g, From: []helmrelease.ValuesReference{{Kind: "Secret", Name: "flaky", Optional: true}}})
	if !errors.Is(err, errTransient) {
		t.Errorf("an optional reference tolerated a transient error: %v", err)
	}
}

// TestDigestValuesAsFlux checks the digest against the building blocks
// Flux's chartutil.DigestValues uses: sigs.k8s.io/yaml's
// JSONObjectToYAMLObject, a bytewise key sort and go-yaml v2.
func TestDigestValuesAsFlux(t *testing.T) {
	empty := sha256.Sum256(nil)
	if got, want := helmrelease.DigestValues(nil), "sha256:"+hex.EncodeToString(empty[:]); got != want {
		t.Errorf("empty digest %s, want %s", got, want)
	}
	if helmrelease.DigestValues(map[string]any{}) != helmrelease.DigestValues(nil) {
		t.Error("empty and nil values digest differently")
	}
	for _, doc := range []string{
		"a: 1",
		"b: 1\na: 2\nA: 3\na10: x\na9: y",
		"big: 1000000\nf: 1.5\nneg: -3\nexp: 1e21\nt: true\nn: null\ns: '1'",
		"m: {z: {y: [1, {b: 1, a: 2}], x: {}}, e: []}\nlist: [[{d: 1, c: 2}]]",
		"unicode: \"é\"\nmulti: \"a\\nb\"",
	} {
		v := y(t, doc)
		if got, want := helmrelease.DigestValues(v), fluxDigest(t, v); got != want {
			t.Errorf("%q: digest %s, want %s", doc, got, want)
		}
	}
}

func fluxDigest(t testing.TB, v map[string]any) string {
	h := sha256.New()
	if len(v) > 0 {
		ms := yaml.JSONObjectToYAMLObject(v)
		sortMapSlice(ms)
		if err := goyaml.NewEncoder(h).Encode(ms); err != nil {
			t.Fatal(err)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func sortMapSlice(ms goyaml.MapSlice) {
	sort.Slice(ms, func(i, j int) bool { return ms[i].Key.(string) < ms[j].Key.(string) })
	for _, it := range ms {
		sortAny(it.Value)
	}
}

func sortAny(v any) {
	switch t := v.(type) {
	case goyaml.MapSlice:
		sortMapSlice(t)
	case []any:
		for _, e := range t {
			sortAny(e)
		}
	}
}

// TestSOPSValues encrypts values with the sops CLI and decrypts them with
// kustomize/sopsdecrypt: a values file and a Secret key; without a
// Decryptor the ciphertext is refused.
func TestSOPSValues(t *testing.T) {
	sops := testbin.Tool(t, "sops")
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	encrypt := func(name, plain string) []byte {
		dir := t.TempDir()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(plain), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(sops, "encrypt", "--age", id.Recipient().String(), p)
		cmd.Env = append(os.Environ(), "SOPS_AGE_KEY_FILE=/nonexistent")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sops encrypt: %v", err)
		}
		if strings.Contains(string(out), "s3cr3t") {
			t.Fatal("sops did not encrypt")
		}
		return out
	}
	file := encrypt("values.yaml", "db:\n  password: s3cr3t-file\n")
	secretDoc := encrypt("values.yaml", "api:\n  token: s3cr3t-secret\n")
	k, d := obj("Secret", "enc", "values.yaml", string(secretDoc))
	opts := helmrelease.ValuesOptions{
		Files:  []helmrelease.ValuesFile{{Path: "secrets/values.yaml", Data: file}},
		From:   []helmrelease.ValuesReference{{Kind: "Secret", Name: "enc"}},
		Getter: objects(k, d),
	}
	_, err = helmrelease.ComposeValues(context.Background(), opts)
	if !errors.Is(err, kustomize.ErrStillEncrypted) {
		t.Fatalf("without a Decryptor: %v, want ErrStillEncrypted", err)
	}
	opts.Decryptor = &sopsdecrypt.Decryptor{Keys: &sopsdecrypt.Keys{Age: []age.Identity{id}}}
	got, err := helmrelease.ComposeValues(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(y(t, "db: {password: s3cr3t-file}\napi: {token: s3cr3t-secret}"), got.Values); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	other, _ := age.GenerateX25519Identity()
	opts.Decryptor = &sopsdecrypt.Decryptor{Keys: &sopsdecrypt.Keys{Age: []age.Identity{other}}}
	_, err = helmrelease.ComposeValues(context.Background(), opts)
	var ve *helmrelease.ValuesError
	if !errors.As(err, &ve) || ve.Key != "secrets/values.yaml" {
		t.Fatalf("with the wrong key: %v, want a ValuesError naming the file", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error quotes the plaintext: %v", err)
	}
}

// TestSetPath checks --set semantics on their own.
func TestSetPath(t *testing.T) {
	tests := []struct {
		path, value string
		literal     bool
		want        string
	}{
		{"a.b", "1", false, "a: {b: 1}"},
		{"a.b", "true", false, "a: {b: true}"},
		{"a.b", "'true'", false, "a: {b: 'true'}"},
		{"a.b", "null", false, "a: {b: null}"},
		{"a[1]", "x", false, "a: [null, x]"},
		{`a\.b`, "x", false, "a.b: x"},
		{"a", "x,b=z", false, "a: x\nb: z"},
		{"a", "x,b=y", true, "a: 'x,b=y'"},
		{"a", "{1,2}", false, "a: [1, 2]"},
		{"a", "{1,2}", true, "a: '{1,2}'"},
		{"a", `c:\path`, true, `a: 'c:\path'`},
	}
	for _, tt := range tests {
		v := map[string]any{}
		if err := helmrelease.SetPath(v, tt.path, tt.value, tt.literal); err != nil {
			t.Errorf("%s=%s: %v", tt.path, tt.value, err)
			continue
		}
		if diff := cmp.Diff(norm(t, y(t, tt.want)), norm(t, v)); diff != "" {
			t.Errorf("%s=%s literal=%v (-want +got):\n%s", tt.path, tt.value, tt.literal, diff)
		}
	}
}

// TestMergeValuesLeavesInputs: merging never modifies its arguments.
func TestMergeValuesLeavesInputs(t *testing.T) {
	a, b := y(t, "m: {x: 1}\nl: [1]"), y(t, "m: {y: 2}\nl: [2]")
	ac, bc := fmt.Sprint(a), fmt.Sprint(b)
	got := helmrelease.MergeValues(a, b)
	if fmt.Sprint(a) != ac || fmt.Sprint(b) != bc {
		t.Errorf("inputs modified: %v %v", a, b)
	}
	if diff := cmp.Diff(y(t, "m: {x: 1, y: 2}\nl: [2]"), got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestComposeValuesLeavesInlineValues: a target path that writes into
// what only the inline values hold does not modify the caller's map.
func TestComposeValuesLeavesInlineValues(t *testing.T) {
	k, d := cm("c", "v", "new")
	inline := y(t, "m: {x: old}\nl: [{a: old}]")
	before := fmt.Sprint(inline)
	got, err := helmrelease.ComposeValues(context.Background(), helmrelease.ValuesOptions{
		From:   []helmrelease.ValuesReference{{Kind: "ConfigMap", Name: "c", ValuesKey: "v", TargetPath: "m.x"}, {Kind: "ConfigMap", Name: "c", ValuesKey: "v", TargetPath: "l[0].a"}},
		Getter: objects(k, d),
		Values: inline,
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(inline) != before {
		t.Errorf("inline values modified: %v", inline)
	}
	if diff := cmp.Diff(y(t, "m: {x: new}\nl: [{a: new}]"), got.Values); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
