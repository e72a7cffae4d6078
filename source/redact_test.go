package source_test

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/source"
)

// TestRedactUglyURLs feeds malformed and hostile URLs, as they reach
// errors, and checks that the password never survives while the readable
// parts that are not secret do.
func TestRedactUglyURLs(t *testing.T) {
	tests := []struct {
		name string
		in   string
		// secret must not appear in the output.
		secret string
		// want, when set, is the exact output.
		want string
		// keep lists substrings that must survive.
		keep []string
	}{
		{name: "well-formed", in: "https://user:hunter22@example.com/repo.git", secret: "hunter22", want: "https://***@example.com/repo.git"},
		{name: "missing colon after scheme", in: "clone https//user:hunter22@host/x: 401", secret: "hunter22", want: "clone https//***@host/x: 401"},
		{name: "no scheme", in: "fetch user:hunter22@host/path failed", secret: "hunter22", want: "fetch ***@host/path failed"},
		{name: "single slash", in: "http:/user:hunter22@h/x", secret: "hunter22", keep: []string{"@h/x"}},
		{name: "space in password", in: "clone https://user:hun ter22@example.com/x: denied", secret: "hun ter22", want: "clone https://***@example.com/x: denied"},
		{name: "quote in password", in: `Get "https://user:hun"ter22@example.com/x": EOF`, secret: `hun"ter22`, keep: []string{"example.com/x"}},
		{name: "Go-quoted quote in password", in: strconv.Quote(`https://user:hun"ter22@example.com/x`), secret: `hun\"ter22`},
		{name: "at sign in password", in: "https://user:hun@ter22@example.com/x", secret: "ter22", want: "https://***@example.com/x"},
		{name: "at sign in user", in: "https://me@corp.com:hunter22@example.com/x", secret: "hunter22", want: "https://***@example.com/x"},
		{name: "slash in password", in: "https://user:hun/ter22@example.com/x", secret: "hun/ter22", want: "https://***@example.com/x"},
		{name: "percent-encoded", in: "https://user%40corp:hun%2Fter22@example.com/x", secret: "hun%2Fter22", want: "https://***@example.com/x"},
		{name: "unescaped characters", in: "https://us er:h#u?n%ter22@example.com/x", secret: "h#u?n%ter22", keep: []string{"example.com/x"}},
		{name: "IPv6 host", in: "https://user:hunter22@[::1]:8443/x", secret: "hunter22", want: "https://***@[::1]:8443/x"},
		{name: "IPv6 zone", in: "dial https://user:hunter22@[fe80::1%25eth0]/x", secret: "hunter22", want: "dial https://***@[fe80::1%25eth0]/x"},
		{name: "token only", in: "https://ghp_abcdef123@github.com/org/repo", secret: "ghp_abcdef123", want: "https://***@github.com/org/repo"},
		{name: "several URLs", in: "a https://u1:pw-one@h1/x, b http://u2:pw-two@h2/y; c u3:pw-three@h3", secret: "pw-", want: "a https://***@h1/x, b http://***@h2/y; c ***@h3"},
		{name: "ssh URL with password", in: "ssh://git:hunter22@host:2222/repo", secret: "hunter22", want: "ssh://***@host:2222/repo"},
		{name: "scp-like with password", in: "git:hunter22@github.com:org/repo", secret: "hunter22", want: "***@github.com:org/repo"},
		{name: "git+https", in: "git+https://user:hunter22@example.com/x", secret: "hunter22", want: "git+https://***@example.com/x"},
		{name: "truncated after at", in: "url https://user:hunter22@", secret: "hunter22", want: "url https://***@"},
		{name: "in angle brackets", in: "<https://user:hunter22@example.com/x>", secret: "hunter22", want: "<https://***@example.com/x>"},
		{name: "uppercase scheme", in: "HTTPS://USER:HUNTER22@EXAMPLE.COM/", secret: "HUNTER22", want: "HTTPS://***@EXAMPLE.COM/"},
		{name: "url.Error text", in: `Get "https://user:xxxxx@example.com/info/refs": dial tcp: lookup example.com: no such host`, secret: "user:xxxxx", keep: []string{"no such host", "example.com/info/refs"}},
		{name: "proxy URL", in: "proxyconnect tcp: http://proxyuser:hunter22@proxy:3128", secret: "hunter22", want: "proxyconnect tcp: http://***@proxy:3128"},
		{name: "multi-line", in: "line one https://a:hunter22@h/x\nline two admin@example.com", secret: "hunter22", want: "line one https://***@h/x\nline two admin@example.com"},
		{name: "authorization header echoed", in: "authentication required: Authorization: Basic dXNlcjpodW50ZXIyMg==", secret: "dXNlcjpodW50ZXIyMg", keep: []string{"authentication required"}},
		{name: "bearer echoed", in: "401: you sent Bearer tok-9f8e7d6c", secret: "tok-9f8e7d6c", want: "401: you sent Bearer ***"},
		{name: "json header echo", in: `{"headers":{"Authorization":"token ghp_123456789"}}`, secret: "ghp_123456789"},
		{name: "query token", in: "GET https://h/x?private_token=glpat-12345&x=1", secret: "glpat-12345", want: "GET https://h/x?private_token=***&x=1"},
		{name: "presigned URL", in: "https://b.s3/x?X-Amz-Credential=AKIA123&X-Amz-Signature=abcdef", secret: "abcdef", keep: []string{"https://b.s3/x"}},
		// Text that holds no credential stays readable.
		{name: "scp-like", in: "git@github.com:org/repo", want: "git@github.com:org/repo"},
		{name: "e-mail", in: "commit by Alice <alice@example.com>", want: "commit by Alice <alice@example.com>"},
		{name: "path with at", in: "https://github.com/org/repo@v1.2.0", want: "https://github.com/org/repo@v1.2.0"},
		{name: "module version", in: "golang.org/x/tools@v0.1.0: not found", want: "golang.org/x/tools@v0.1.0: not found"},
		{name: "reflog", in: "HEAD@{1} main@{upstream}", want: "HEAD@{1} main@{upstream}"},
		{name: "URL then e-mail", in: "git verify https://github.com/org/repo: verification failed: signature by alice@example.com", want: "git verify https://github.com/org/repo: verification failed: signature by alice@example.com"},
		{name: "basic as a word", in: "Basic authentication required", want: "Basic authentication required"},
		{name: "plain URL", in: "https://example.com:8443/org/repo.git", want: "https://example.com:8443/org/repo.git"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := source.Redact(tt.in)
			if tt.secret != "" && strings.Contains(got, tt.secret) {
				t.Errorf("Redact(%q) = %q: the secret %q survived", tt.in, got, tt.secret)
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
			for _, k := range tt.keep {
				if !strings.Contains(got, k) {
					t.Errorf("Redact(%q) = %q lost %q", tt.in, got, k)
				}
			}
		})
	}
}

// TestRedactorEncodings checks that a secret is masked in every encoding
// a client sends or a server may echo.
func TestRedactorEncodings(t *testing.T) {
	const user, pass, token = "alice", "p@ss w/rd:\"x", "tok_5ecret+/="
	r := source.NewRedactor()
	r.AddBasicAuth(user, pass)
	r.AddSecret(token)
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	for _, leak := range []string{
		pass,
		url.QueryEscape(pass),
		url.PathEscape(pass),
		url.UserPassword(user, pass).String(),
		strconv.Quote(pass),
		basic,
		base64.RawStdEncoding.EncodeToString([]byte(user + ":" + pass)),
		base64.URLEncoding.EncodeToString([]byte(user + ":" + pass)),
		token,
		url.QueryEscape(token),
		base64.StdEncoding.EncodeToString([]byte(token)),
	} {
		text := "server said: " + leak + " (end)"
		got := r.Redact(text)
		for _, s := range []string{pass, basic, token, strings.TrimRight(basic, "=")} {
			if strings.Contains(got, s) {
				t.Errorf("Redact(%q) = %q still holds %q", text, got, s)
			}
		}
		if !strings.Contains(got, "server said:") || !strings.Contains(got, "(end)") {
			t.Errorf("Redact(%q) = %q lost the surrounding text", text, got)
		}
	}
	// A nil Redactor masks by shape.
	var nilR *source.Redactor
	if got := nilR.Redact("https://u:hunter22@h"); got != "https://***@h" {
		t.Errorf("nil Redactor: %q", got)
	}
	// Short values are not masked on their own, but their basic form is.
	short := source.NewRedactor("ab")
	short.AddBasicAuth("u", "ab")
	if got := short.Redact("tab stop " + base64.StdEncoding.EncodeToString([]byte("u:ab"))); got != "tab stop ***" {
		t.Errorf("short secret: %q", got)
	}
}

// TestRedactURL checks the configured address, which may not parse, is
// shown without its credentials.
func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want, secret string }{
		{"https://user:hunter22@example.com/x", "https://***@example.com/x", "hunter22"},
		{"https://user:hunter 22@example.com/x", "https://***@example.com/x", "hunter 22"},
		{"https://user:hun/ter@22@example.com/x", "https://***@example.com/x", "ter@22"},
		{"https//user:hunter22@example.com", "https//***@example.com", "hunter22"},
		{"user:hunter22@example.com/x", "***@example.com/x", "hunter22"},
		{"https://token123@example.com/x", "https://***@example.com/x", "token123"},
		{"git@github.com:org/repo.git", "git@github.com:org/repo.git", ""},
		{"https://example.com/org/repo", "https://example.com/org/repo", ""},
	}
	for _, tt := range tests {
		got := source.RedactURL(tt.in)
		if got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if tt.secret != "" && strings.Contains(got, tt.secret) {
			t.Errorf("RedactURL(%q) = %q holds %q", tt.in, got, tt.secret)
		}
	}
	// The configured address's secret is also masked where it shows up
	// alone, for example percent-decoded in a server message.
	r := source.NewRedactor()
	r.AddURL("https://bob:s3cr%2Ft@example.com/x")
	if got := r.Redact("bad password s3cr/t for bob"); strings.Contains(got, "s3cr/t") {
		t.Errorf("decoded URL password survived: %q", got)
	}
}

// FuzzRedact inserts a generated user and password into generated URL
// shapes inside running text and checks that no byte that only the
// password contributed survives. The shapes and the limits on the
// password are the ones Redact promises to handle without knowing the
// secret:
//
//   - scheme://user:password@host and scheme//user:password@host: any
//     password without a line break or "//"; a password with a space, a
//     quote or another character that ends a word must not hold both a
//     '/' and a space (nor may the user);
//   - scheme:/user:password@host, user:password@host and a Go-quoted
//     scheme URL: a password without word-ending characters;
//   - scheme://token@host: a token without word-ending characters and '/'.
//
// Redaction with the password known (AddBasicAuth) must mask it in every
// shape, whatever its bytes, and its base64 form too.
func FuzzRedact(f *testing.F) {
	f.Add("user", "hunter22", "example.com", uint8(0), uint8(0))
	f.Add("me@corp.com", "p@ss w0rd", "[::1]:8443", uint8(1), uint8(1))
	f.Add("u", `pa"ss`, "h", uint8(5), uint8(2))
	f.Add("", "tok_123", "github.com", uint8(6), uint8(3))
	f.Add("alice", "s3cr%2Ft", "host/x", uint8(4), uint8(4))
	f.Add("x", "a token=b", "h", uint8(0), uint8(1))
	f.Fuzz(func(t *testing.T, user, pass, host string, shape, wrap uint8) {
		if len(pass) < 3 || strings.Contains(pass, "//") || strings.Contains(user, "//") ||
			strings.ContainsAny(pass+user, "\n\r") || strings.ContainsAny(user, ":/") {
			return
		}
		stops := strings.ContainsAny(pass+user, " \t\v\f\"'`<>()[]{},;|\\")
		slashAndSpace := strings.Contains(pass+user, "/") && strings.ContainsAny(pass+user, " \t\v\f")
		schemes := []string{"https", "http", "ssh", "git+https", "HTTPS"}
		scheme := schemes[int(shape>>3)%len(schemes)]
		var mid, secret string
		switch shape % 7 {
		case 0:
			if stops && slashAndSpace {
				return
			}
			mid, secret = scheme+"://"+user+":"+pass+"@"+host+"/repo.git", pass
		case 1:
			if stops && slashAndSpace {
				return
			}
			mid, secret = scheme+"//"+user+":"+pass+"@"+host, pass
		case 2:
			if stops {
				return
			}
			mid, secret = scheme+":/"+user+":"+pass+"@"+host, pass
		case 3:
			if stops {
				return
			}
			mid, secret = user+":"+pass+"@"+host+"/path", pass
		case 4:
			u := url.UserPassword(user, pass).String()
			mid, secret = scheme+"://"+u+"@"+host, u[strings.IndexByte(u, ':')+1:]
		case 5:
			if stops && slashAndSpace {
				return
			}
			q := strconv.Quote(scheme + "://" + user + ":" + pass + "@" + host)
			mid, secret = q, quoteInner(pass)
		case 6:
			if stops || strings.Contains(pass, "/") {
				return
			}
			mid, secret = scheme+"://"+pass+"@"+host, pass
		}
		prefixes := []string{"", "clone ", `Get "`, "error: ", "a\nb "}
		suffixes := []string{"", ": 401", `": EOF`, " by admin@example.com", "\nnext"}
		prefix, suffix := prefixes[int(wrap)%len(prefixes)], suffixes[int(wrap/8)%len(suffixes)]
		text := prefix + mid + suffix
		public := strings.Replace(text, secret, "", 1) + "*"
		var unique []byte
		for i := 0; i < len(secret); i++ {
			if strings.IndexByte(public, secret[i]) < 0 {
				unique = append(unique, secret[i])
			}
		}
		if len(unique) > 0 {
			got := source.Redact(text)
			leak := strings.Contains(got, secret)
			for _, c := range unique {
				leak = leak || strings.IndexByte(got, c) >= 0
			}
			if leak {
				t.Fatalf("Redact(%q) = %q leaks the password %q", text, got, secret)
			}
		}
		// With the credentials known, any shape is masked. ('*' would let
		// masks next to each other spell the password.)
		if strings.Contains(pass, "*") {
			return
		}
		r := source.NewRedactor()
		r.AddBasicAuth(user, pass)
		body := text + " Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)) + " " + pass
		got := r.Redact(body)
		if strings.Contains(got, pass) {
			t.Fatalf("Redactor(%q).Redact(%q) = %q leaks the password", pass, body, got)
		}
		if b := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)); strings.Contains(got, b) {
			t.Fatalf("Redactor(%q).Redact(%q) = %q leaks base64 %q", pass, body, got, b)
		}
	})
}

// quoteInner is v as it appears inside a Go-quoted string.
func quoteInner(v string) string {
	q := strconv.Quote(v)
	return q[1 : len(q)-1]
}

// TestRedactorKeepsSSHUser checks that the user of an SSH address, which
// is a name and not a secret, is not masked wherever it appears.
func TestRedactorKeepsSSHUser(t *testing.T) {
	for _, u := range []string{"ssh://git@example.com/org/repo", "ssh//git@example.com/x", "git+ssh://git@example.com/x", "git@example.com:org/repo"} {
		r := source.NewRedactor()
		r.AddURL(u)
		if got := r.Redact("git-upload-pack failed"); got != "git-upload-pack failed" {
			t.Errorf("AddURL(%q) masks the user everywhere: %q", u, got)
		}
	}
	r := source.NewRedactor()
	r.AddURL("https://ghp_tokenvalue@github.com/org/repo")
	if got := r.Redact("token ghp_tokenvalue rejected"); strings.Contains(got, "ghp_tokenvalue") {
		t.Errorf("a token as the user of an HTTPS URL survived: %q", got)
	}
}

// A Redactor built from the credentials in use masks them wherever they
// show up, in the forms they were sent in, and URL userinfo by shape.
func ExampleRedactor() {
	r := source.NewRedactor()
	r.AddBasicAuth("alice", "hunter22")
	body := "401: you sent Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice:hunter22")) +
		"; retry with https//alice:hunter22@git.example.com/app.git"
	fmt.Println(r.Redact(body))
	fmt.Println(source.RedactURL("https://bob:s3cret@git.example.com/app.git"))
	fmt.Println(source.RedactURL("git@github.com:org/app.git"))
	// Output:
	// 401: you sent Authorization: Basic ***; retry with https//***@git.example.com/app.git
	// https://***@git.example.com/app.git
	// git@github.com:org/app.git
}
