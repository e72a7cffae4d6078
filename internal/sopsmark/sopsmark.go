package sopsmark

import (
	"bytes"
	"path"
	"strings"
)

// The formats sops reads, by the names of its --input-type flag.
const (
	YAML   = "yaml"
	JSON   = "json"
	Dotenv = "dotenv"
	INI    = "ini"
	Binary = "binary"
)

// FormatForPath returns the format sops assumes for a file name: by its
// extension, Binary for anything else.
func FormatForPath(name string) string {
	switch strings.ToLower(path.Ext(strings.ReplaceAll(name, `\`, "/"))) {
	case ".yaml", ".yml":
		return YAML
	case ".json":
		return JSON
	case ".env":
		return Dotenv
	case ".ini":
		return INI
	}
	return Binary
}

// Is reports whether data carries SOPS metadata in format (one of the
// format constants; anything else is treated as Binary).
func Is(data []byte, format string) bool {
	if !bytes.Contains(data, []byte("sops")) {
		return false
	}
	switch format {
	case YAML:
		return yamlMarked(data)
	case Dotenv:
		return dotenvMarked(data)
	case INI:
		return iniMarked(data)
	}
	return jsonMarked(data)
}

// Detect reports the format of the SOPS metadata data carries, trying
// YAML, JSON, dotenv and INI in that order; ok is false for a document
// without SOPS metadata. The wrapper of an encrypted binary file is JSON.
func Detect(data []byte) (format string, ok bool) {
	if !bytes.Contains(data, []byte("sops")) {
		return "", false
	}
	for _, f := range []string{YAML, JSON, Dotenv, INI} {
		if Is(data, f) {
			return f, true
		}
	}
	return "", false
}

// lines calls fn for each line of data (without its line ending) until fn
// returns true.
func lines(data []byte, fn func(line []byte) bool) bool {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if fn(bytes.TrimSuffix(line, []byte("\r"))) {
			return true
		}
	}
	return false
}

// hasKey reports whether s (after leading blanks) starts with key followed
// by optional blanks and sep.
func hasKey(s []byte, key string, sep byte) bool {
	s = bytes.TrimLeft(s, " \t")
	if !bytes.HasPrefix(s, []byte(key)) {
		return false
	}
	s = bytes.TrimLeft(s[len(key):], " \t")
	return len(s) > 0 && s[0] == sep
}

func metaKey(s []byte, sep byte) bool {
	return hasKey(s, "mac", sep) || hasKey(s, "lastmodified", sep)
}

// yamlMarked finds a top-level `sops:` key (at column 0 of any document of
// a stream) whose value, block or flow style, holds `mac` or
// `lastmodified`.
func yamlMarked(data []byte) bool {
	in := false
	return lines(data, func(line []byte) bool {
		if len(line) > 0 && line[0] != ' ' && line[0] != '\t' && line[0] != '#' {
			in = false
			if hasKey(line, "sops", ':') {
				in = true
				rest := bytes.TrimSpace(line[bytes.IndexByte(line, ':')+1:])
				return flowMarked(rest)
			}
			return false
		}
		return in && (metaKey(line, ':') || (bytes.HasPrefix(bytes.TrimLeft(line, " \t"), []byte("{")) && flowMarked(line)))
	})
}

// flowMarked reports whether a flow mapping holds a mac or lastmodified key.
func flowMarked(s []byte) bool {
	if !bytes.HasPrefix(bytes.TrimSpace(s), []byte("{")) {
		return false
	}
	for _, part := range bytes.FieldsFunc(s, func(r rune) bool { return r == '{' || r == ',' }) {
		k, _, found := bytes.Cut(part, []byte(":"))
		if !found {
			continue
		}
		if k := string(bytes.Trim(bytes.TrimSpace(k), `"'`)); k == "mac" || k == "lastmodified" {
			return true
		}
	}
	return false
}

// jsonMarked finds a "sops" key opening an object followed by a "mac" or
// "lastmodified" key.
func jsonMarked(data []byte) bool {
	for rest := data; ; {
		i := bytes.Index(rest, []byte(`"sops"`))
		if i < 0 {
			return false
		}
		rest = rest[i+len(`"sops"`):]
		s := bytes.TrimLeft(rest, " \t\r\n")
		if len(s) == 0 || s[0] != ':' {
			continue
		}
		s = bytes.TrimLeft(s[1:], " \t\r\n")
		if len(s) == 0 || s[0] != '{' {
			continue
		}
		return jsonKey(s, "mac") || jsonKey(s, "lastmodified")
	}
}

// jsonKey reports whether s holds "key" followed by optional blanks and ':'.
func jsonKey(s []byte, key string) bool {
	q := []byte(`"` + key + `"`)
	for {
		i := bytes.Index(s, q)
		if i < 0 {
			return false
		}
		s = s[i+len(q):]
		if t := bytes.TrimLeft(s, " \t\r\n"); len(t) > 0 && t[0] == ':' {
			return true
		}
	}
}

// dotenvMarked finds a sops_mac= or sops_lastmodified= line.
func dotenvMarked(data []byte) bool {
	return lines(data, func(line []byte) bool {
		line = bytes.TrimLeft(line, " \t")
		return bytes.HasPrefix(line, []byte("sops_mac=")) || bytes.HasPrefix(line, []byte("sops_lastmodified="))
	})
}

// iniMarked finds a [sops] section holding a mac or lastmodified key.
func iniMarked(data []byte) bool {
	in := false
	return lines(data, func(line []byte) bool {
		t := bytes.TrimSpace(line)
		if bytes.HasPrefix(t, []byte("[")) {
			in = bytes.Equal(t, []byte("[sops]"))
			return false
		}
		return in && metaKey(t, '=')
	})
}
