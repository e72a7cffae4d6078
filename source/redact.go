package source

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// mask replaces every redacted span.
const mask = "***"

// minSecretLen is the length below which a bare secret value is not
// searched for in text: masking every "a" or "42" would shred messages
// without protecting anything. Values that are this short are still masked
// inside URLs and in their base64 basic-auth form.
const minSecretLen = 3

// authHeader matches an Authorization or Proxy-Authorization header (or a
// key named like one) and its value, as a server may echo it in a body.
var authHeader = regexp.MustCompile(`(?i)((?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:(basic|bearer|token|digest|negotiate|ntlm)\s+)?[^\s"',;]+`)

// authScheme matches "Basic <credentials>" and "Bearer <token>" anywhere.
var authScheme = regexp.MustCompile(`\b((?i:basic|bearer))\s+([A-Za-z0-9+/=._~-]{8,})`)

// secretParam matches query or form parameters that carry credentials.
var secretParam = regexp.MustCompile(`(?i)([?&;\s]|^)((?:access_|private_|id_|refresh_|auth_|oauth_)?token|password|passwd|pwd|secret|client_secret|api_?key|x-amz-signature|x-amz-credential|x-amz-security-token|sig|signature)=([^&\s"'#]+)`)

// Redactor masks credentials in text that may reach an error, a status
// condition, an event or a log. The zero value (and a nil *Redactor) masks
// what looks like a credential: the userinfo of URLs, well-formed or not
// (scheme://user:pass@host, scheme//user:pass@host, user:pass@host/path,
// scheme://token@host), Authorization header values and credential query
// parameters. Secrets added with AddSecret, AddBasicAuth and AddURL are
// masked in every encoding a client sends or a server may echo: raw,
// URL-escaped, Go-quoted and base64. SCP-like addresses such as
// git@github.com:org/repo keep their user name, which is not secret.
type Redactor struct {
	needles []string
}

// NewRedactor returns a Redactor that masks the given secret values (see
// AddSecret) in addition to what it masks by shape.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.AddSecret(secrets...)
	return r
}

// AddSecret adds secret values (passwords, tokens, passphrases) to mask,
// in each of their encodings. Values shorter than three bytes are ignored
// on their own.
func (r *Redactor) AddSecret(values ...string) {
	for _, v := range values {
		if len(v) < minSecretLen {
			continue
		}
		r.add(v, url.QueryEscape(v), url.PathEscape(v), userinfoEscape(v), quoteInner(v),
			base64.StdEncoding.EncodeToString([]byte(v)), base64.RawStdEncoding.EncodeToString([]byte(v)),
			base64.URLEncoding.EncodeToString([]byte(v)), base64.RawURLEncoding.EncodeToString([]byte(v)))
	}
}

// AddBasicAuth adds HTTP basic credentials: the password as with
// AddSecret, and the base64 form of "user:password" sent in the
// Authorization header. The user name alone is not masked.
func (r *Redactor) AddBasicAuth(user, password string) {
	r.AddSecret(password)
	if user == "" && password == "" {
		return
	}
	pair := []byte(user + ":" + password)
	r.add(base64.StdEncoding.EncodeToString(pair), base64.RawStdEncoding.EncodeToString(pair),
		base64.URLEncoding.EncodeToString(pair), base64.RawURLEncoding.EncodeToString(pair))
	if len(password) >= minSecretLen {
		r.add(user + ":" + password)
	}
}

// AddURL adds the credentials found in a configured address, even one
// that does not parse: everything between the scheme marker (or the start)
// and the last '@' of scheme://userinfo@host, scheme//userinfo@host,
// scheme:/userinfo@host and user:password@host, and the part after the
// first and the last ':' of that span. A user name alone is added for
// non-SSH scheme URLs (a token is often sent that way as
// https://<token>@host), never for SSH or SCP-like addresses.
func (r *Redactor) AddURL(raw string) {
	at := strings.LastIndexByte(raw, '@')
	if at < 0 {
		return
	}
	start, scheme, name := 0, false, ""
	if i := strings.Index(raw, "//"); i >= 0 && i < at {
		start, scheme, name = i+2, true, strings.TrimSuffix(raw[:i], ":")
	} else if i := strings.Index(raw, ":/"); i >= 0 && i < at {
		start, scheme, name = i+2, true, raw[:i]
	}
	info := raw[start:at]
	colon := strings.IndexByte(info, ':')
	switch {
	case colon >= 0:
		r.AddSecret(info, info[colon+1:], info[strings.LastIndexByte(info, ':')+1:])
		if u, err := url.PathUnescape(info[:colon]); err == nil {
			if p, err := url.PathUnescape(info[colon+1:]); err == nil {
				r.AddBasicAuth(u, p)
			}
		}
		r.AddBasicAuth(info[:colon], info[colon+1:])
	case scheme && !strings.Contains(info, "/") && !strings.Contains(strings.ToLower(name), "ssh"):
		// An SSH user ("git") is a name, not a secret.
		r.AddSecret(info)
		if u, err := url.PathUnescape(info); err == nil {
			r.AddBasicAuth(u, "")
			r.AddSecret(u)
		}
	}
}

// add records needles, longest first so that a secret containing another
// is masked whole.
func (r *Redactor) add(needles ...string) {
	for _, n := range needles {
		if n == "" || n == mask {
			continue
		}
		dup := false
		for _, have := range r.needles {
			if have == n {
				dup = true
				break
			}
		}
		if !dup {
			r.needles = append(r.needles, n)
		}
	}
	sort.SliceStable(r.needles, func(i, j int) bool { return len(r.needles[i]) > len(r.needles[j]) })
}

// Redact returns s with every added secret (in each encoding) and every
// credential-shaped span masked with "***". A nil Redactor masks by shape
// only.
func (r *Redactor) Redact(s string) string {
	if r != nil {
		for _, n := range r.needles {
			s = strings.ReplaceAll(s, n, mask)
		}
	}
	// Userinfo first: the patterns below may swallow an '@' that marks it.
	s = redactUserinfo(s)
	s = authHeader.ReplaceAllStringFunc(s, func(m string) string {
		sub := authHeader.FindStringSubmatch(m)
		if sub[2] != "" {
			return sub[1] + sub[2] + " " + mask
		}
		return sub[1] + mask
	})
	s = authScheme.ReplaceAllStringFunc(s, func(m string) string {
		sub := authScheme.FindStringSubmatch(m)
		if !credentialLike(sub[2]) {
			return m
		}
		return sub[1] + " " + mask
	})
	return secretParam.ReplaceAllString(s, "${1}${2}="+mask)
}

// Redact returns s with the userinfo of every URL it contains masked
// ("https://***@host/…"), malformed ones included, and every occurrence of
// each secret masked in each encoding (see Redactor). Use it on any text
// that may reach an error or a log.
func Redact(s string, secrets ...string) string {
	return NewRedactor(secrets...).Redact(s)
}

// RedactURL returns rawURL with its userinfo masked, even when it does not
// parse. SCP-like addresses (git@host:path) are returned unchanged: they
// carry a user name but never a password.
func RedactURL(rawURL string) string {
	r := &Redactor{}
	r.AddURL(rawURL)
	return r.Redact(rawURL)
}

// credentialLike reports whether a word after "Basic" or "Bearer" looks
// like an encoded credential rather than prose ("Basic authentication").
func credentialLike(w string) bool {
	lower, upper := false, false
	for _, c := range w {
		switch {
		case c >= '0' && c <= '9', c == '+', c == '/', c == '=', c == '_', c == '-', c == '.', c == '~':
			return true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		}
	}
	return lower && upper
}

// userinfoEscape is the form net/url gives a password inside a URL.
func userinfoEscape(v string) string {
	s := url.UserPassword("u", v).String()
	return s[2:]
}

// quoteInner is v as it appears inside a Go-quoted string.
func quoteInner(v string) string {
	q := strconv.Quote(v)
	return q[1 : len(q)-1]
}

// hardStop reports whether c ends a URL-like token in running text.
func hardStop(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f', '"', '\'', '`', '<', '>', '(', ')', '[', ']', '{', '}', ',', ';', '|', '\\':
		return true
	}
	return false
}

// redactUserinfo masks the userinfo-looking span before every '@':
//
//   - In a run of text without spaces or quotes, the span reaches back to
//     the first "//" of the run (scheme://, scheme//) or to the start of
//     the run. It is masked when it holds a ':' (user:password, which also
//     covers scheme:/user:password) or when it follows "//" and holds no
//     '/' (a user or token alone; a '/' without ':' is a path such as
//     https://host/org/repo@v1). When the span from the first "//" is not
//     masked, the one from the last "//" of the run is tried.
//   - Across spaces and quotes on the same line, the span reaches back to
//     the nearest "//" and is masked when it holds a ':' and not both a '/'
//     and a space: a password with a space or a quote in it.
//
// A lone user before '@' outside a scheme URL (an SCP-like address, an
// e-mail address) is kept. The scan is a single pass.
func redactUserinfo(s string) string {
	if strings.IndexByte(s, '@') < 0 {
		return s
	}
	type span struct{ from, to int }
	var spans []span
	var (
		stop      = -1 // last hard stop
		nl        = -1 // last line break
		firstDS   = -1 // first "//" after stop
		lastDS    = -1 // last "//" anywhere
		lastColon = -1
		lastSlash = -1
		lastSpace = -1
	)
	// masked reports whether the span [from, at) is userinfo in a scheme
	// URL run.
	masked := func(from, at int) bool {
		return from < at && (lastColon >= from || lastSlash < from)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '@':
			runStart := stop + 1
			switch {
			case firstDS > stop && masked(firstDS+2, i):
				spans = append(spans, span{firstDS + 2, i})
			case firstDS > stop && lastDS > firstDS && masked(lastDS+2, i):
				spans = append(spans, span{lastDS + 2, i})
			case firstDS <= stop && lastColon >= runStart:
				spans = append(spans, span{runStart, i})
			}
			if stop >= 0 && lastDS > nl && lastDS+2 < runStart {
				from := lastDS + 2
				if lastColon >= from && !(lastSlash >= from && lastSpace >= from) {
					spans = append(spans, span{from, i})
				}
			}
		case c == ':':
			lastColon = i
		case c == '/':
			if i > 0 && s[i-1] == '/' {
				if firstDS <= stop {
					firstDS = i - 1
				}
				lastDS = i - 1
			}
			lastSlash = i
		case hardStop(c):
			stop = i
			switch c {
			case '\n', '\r':
				nl = i
			case ' ', '\t', '\v', '\f':
				lastSpace = i
			}
		}
	}
	if len(spans) == 0 {
		return s
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
	var b strings.Builder
	last := 0
	for i := 0; i < len(spans); {
		from, to := spans[i].from, spans[i].to
		for i++; i < len(spans) && spans[i].from <= to+1; i++ {
			to = max(to, spans[i].to)
		}
		b.WriteString(s[last:from])
		b.WriteString(mask)
		last = to
	}
	b.WriteString(s[last:])
	return b.String()
}
