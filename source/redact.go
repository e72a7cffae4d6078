package source

import (
	"regexp"
	"strings"
)

// userinfo matches the user[:password]@ part of a URL inside any text.
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.\-]*://)[^/@\s"']+@`)

// Redact returns s with the userinfo of every URL it contains masked
// ("https://***@host/…") and every occurrence of each non-empty secret
// replaced by "***". Use it on any text that may reach an error or a log.
func Redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 3 {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return userinfo.ReplaceAllString(s, "${1}***@")
}

// RedactURL returns rawURL with the userinfo of a scheme URL masked.
// SCP-like addresses (git@host:path) are returned unchanged: they carry a
// user name but never a password.
func RedactURL(rawURL string) string {
	return Redact(rawURL)
}
