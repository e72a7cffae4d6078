package bucket

import (
	"strings"
	"unicode/utf8"
)

// checkKey returns why key cannot be written below a directory as the
// slash-separated relative path it names, or "" when it can.
func checkKey(key string) string {
	switch {
	case key == "":
		return "empty key"
	case !utf8.ValidString(key):
		return "not valid UTF-8"
	case strings.ContainsRune(key, 0):
		return "contains a NUL byte"
	case strings.ContainsRune(key, '\\'):
		return "contains a backslash"
	case strings.HasPrefix(key, "/"):
		return "is absolute"
	case len(key) >= 2 && key[1] == ':' && (key[0]|0x20 >= 'a' && key[0]|0x20 <= 'z'):
		return "starts with a drive letter"
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "..":
			return "has a \"..\" segment"
		case ".":
			return "has a \".\" segment"
		case "":
			return "has an empty segment"
		}
	}
	return ""
}
