// Package yamlguard refuses YAML documents whose aliases would expand far
// beyond their size (the "billion laughs" attack) before a decoder that
// expands them sees the bytes. Every package that parses YAML from
// untrusted input calls Check first.
package yamlguard
