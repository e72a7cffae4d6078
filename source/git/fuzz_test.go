package git

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// uniqueIn reports whether secret is long enough to look for and occurs in
// text only where it was put (so finding it later means it leaked).
func uniqueIn(secret, text string) bool {
	return len(secret) >= 6 && strings.Count(text, secret) == 1 && !strings.Contains(secret, "*")
}

// FuzzParseGitmodules feeds .gitmodules content to the parser checkout
// uses, then resolves and checks every submodule address as checkout
// does: nothing panics, and an error never quotes a URL's password.
func FuzzParseGitmodules(f *testing.F) {
	f.Add("[submodule \"lib\"]\n\tpath = vendor/lib\n\turl = ../lib.git\n")
	f.Add("[submodule \"x\"]\n\tpath = a\n\turl = https://user:pw-secret-1@internal:8080/x\n[submodule \"y\"]\n\tpath = ../../etc\n\turl = git@h:o/r\n")
	f.Add("[submodule \"\\\"]\npath=\nurl=-oProxyCommand=touch /tmp/x\n")
	f.Add("[submodule]\n\turl = http//u:pw-secret-2@h\n\tpath = .\n[core]\n\tx = \"unterminated\n")
	f.Add("[submodule \"a\"]\n\tpath = a\n\turl = ..//evil.example/x\n[submodule \"b\"]\n\tpath = b\n\turl = ./../../../../x\n")
	parent, err := parseEndpoint("https://example.com/org/app.git")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, content string) {
		byPath, err := parseGitmodules([]byte(content))
		if err != nil {
			if !strings.Contains(err.Error(), ".gitmodules") {
				t.Fatalf("error %q does not name .gitmodules", err)
			}
			return
		}
		for p, raw := range byPath {
			if p == "" {
				t.Fatalf("empty path for %q", raw)
			}
			var pw string
			if _, rest, ok := strings.Cut(raw, ":"); ok {
				if i := strings.LastIndexByte(rest, '@'); i >= 0 {
					pw = rest[:i]
					if j := strings.LastIndexByte(pw, ':'); j >= 0 {
						pw = pw[j+1:]
					}
				}
			}
			check := func(err error) {
				if err != nil && uniqueIn(pw, content) && !strings.ContainsAny(pw, "/@ \t\"\\") && strings.Contains(err.Error(), pw) {
					t.Fatalf("error %q quotes the password %q of %q", err, pw, raw)
				}
			}
			u, err := resolveSubmoduleURL(parent.Clean, raw)
			check(err)
			if err != nil {
				continue
			}
			ep, err := parseEndpoint(u)
			check(err)
			if err != nil {
				continue
			}
			err = sameHost(parent, ep)
			check(err)
			if strings.HasPrefix(raw, "./") || strings.HasPrefix(raw, "../") {
				if err != nil {
					t.Fatalf("relative URL %q resolved to %q on another host: %v", raw, u, err)
				}
			}
		}
	})
}

// FuzzSecretData feeds Flux Secret data to the parsers of credentials,
// proxies, SSH identities, known_hosts and verification keys: nothing
// panics and no error quotes the password or the token.
func FuzzSecretData(f *testing.F) {
	f.Add("user", "pw-secret-1", "", []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"), []byte("h ssh-ed25519 AAAA"), "ssh://git@h/r", "http://p:pw-secret-3@proxy:3128", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxsBN\n-----END PGP PUBLIC KEY BLOCK-----\n")
	f.Add("", "", "tok-secret-2", []byte(nil), []byte(nil), "https://h/r", "socks5://proxy:1080", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")
	f.Add("u", "p", "", []byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\n-----END RSA PRIVATE KEY-----\n"), []byte("@cert-authority * ssh-rsa AAAA\n|1|abc|def ssh-rsa AAAA\n"), "git@h:org/r", "gopher://u:pw-secret-4@x", "")
	f.Fuzz(func(t *testing.T, user, pass, token string, identity, knownHosts []byte, repoURL, proxyAddr, keys string) {
		data := map[string][]byte{
			"username": []byte(user), "password": []byte(pass), "bearerToken": []byte(token),
			"identity": identity, "known_hosts": knownHosts, "ca.crt": identity,
		}
		all := user + "\x00" + pass + "\x00" + token + "\x00" + string(identity) + "\x00" + string(knownHosts) + "\x00" + repoURL + "\x00" + proxyAddr + "\x00" + keys
		clean := func(err error, secrets ...string) {
			if err == nil {
				return
			}
			for _, s := range secrets {
				if uniqueIn(s, all) && strings.Contains(err.Error(), s) {
					t.Fatalf("error %q quotes the secret %q", err, s)
				}
			}
		}
		a, err := AuthFromSecretData(data, repoURL)
		clean(err, pass, token)
		ep, epErr := parseEndpoint(repoURL)
		if err == nil && epErr == nil {
			_, err := a.transportAuth(ep)
			clean(err, pass, token)
		}
		// SSH parsing is reached whatever the URL.
		_, err = (&Auth{Identity: identity, KnownHosts: knownHosts, Password: pass}).transportAuth(endpoint{Protocol: "ssh", Host: "h"})
		clean(err, pass)
		p, err := ProxyFromSecretData(map[string][]byte{"address": []byte(proxyAddr), "username": []byte(user), "password": []byte(pass)})
		var proxyPass string
		if i := strings.LastIndexByte(proxyAddr, '@'); i >= 0 {
			if j := strings.LastIndexByte(proxyAddr[:i], ':'); j >= 0 {
				proxyPass = proxyAddr[j+1 : i]
			}
		}
		clean(err, pass, proxyPass)
		if err == nil {
			r := &Repository{URL: "https://example.com/r", Proxy: p}
			_, err := r.connect()
			clean(err, pass, proxyPass)
		}
		_, err = (&Verification{PGPKeyRings: []string{keys}, SSHKeys: []string{keys}}).compile()
		clean(err)
	})
}

// treeSpec builds a tree in memory from lines "kind|path|data", where
// path separates levels with '>' (so that '/' and other bytes stay inside
// a single entry name) and kind is f (file), x (executable), l (symbolic
// link to data), d (directory), s (submodule) or a raw octal mode.
// Entries keep their order and duplicates, as a hostile server may send
// them.
type specNode struct {
	name     string
	mode     filemode.FileMode
	data     string
	children []*specNode
}

func buildSpec(spec string) *specNode {
	root := &specNode{mode: filemode.Dir}
	for _, line := range strings.Split(spec, "\n") {
		kind, rest, _ := strings.Cut(line, "|")
		p, data, _ := strings.Cut(rest, "|")
		var mode filemode.FileMode
		switch kind {
		case "f":
			mode = filemode.Regular
		case "x":
			mode = filemode.Executable
		case "l":
			mode = filemode.Symlink
		case "d":
			mode = filemode.Dir
		case "s":
			mode = filemode.Submodule
		default:
			m, err := strconv.ParseUint(kind, 8, 32)
			if err != nil {
				continue
			}
			mode = filemode.FileMode(m)
		}
		parts := strings.Split(p, ">")
		cur := root
		for _, dir := range parts[:len(parts)-1] {
			var next *specNode
			for _, c := range cur.children {
				if c.name == dir && c.mode == filemode.Dir {
					next = c
				}
			}
			if next == nil {
				next = &specNode{name: dir, mode: filemode.Dir}
				cur.children = append(cur.children, next)
			}
			cur = next
		}
		cur.children = append(cur.children, &specNode{name: parts[len(parts)-1], mode: mode, data: data})
	}
	return root
}

// store writes n into st and returns its hash.
func (n *specNode) store(st *memory.Storage) (plumbing.Hash, error) {
	if n.mode == filemode.Submodule {
		return plumbing.ComputeHash(plumbing.CommitObject, []byte(n.data)), nil
	}
	obj := st.NewEncodedObject()
	if n.mode != filemode.Dir {
		obj.SetType(plumbing.BlobObject)
		w, err := obj.Writer()
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if _, err := w.Write([]byte(n.data)); err != nil {
			return plumbing.ZeroHash, err
		}
		if err := w.Close(); err != nil {
			return plumbing.ZeroHash, err
		}
		return st.SetEncodedObject(obj)
	}
	tree := &object.Tree{}
	for _, c := range n.children {
		h, err := c.store(st)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		tree.Entries = append(tree.Entries, object.TreeEntry{Name: c.name, Mode: c.mode, Hash: h})
	}
	if err := tree.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return st.SetEncodedObject(obj)
}

// FuzzWriteTree checks out hostile trees (names "..", ".git", ".GIT",
// absolute, with '/', '\' or NUL, duplicates, symbolic links pointing out
// followed by entries below them, odd modes) and checks that nothing is
// written outside the destination and no .git entry appears in it.
func FuzzWriteTree(f *testing.F) {
	f.Add("f|a.txt|hello\nx|bin>run.sh|#!/bin/sh\nl|link|a.txt\ns|vendor>lib|c", "")
	f.Add("f|..|x\nf|.git|x\nd|.GIT|\nf|/etc>passwd|x\nf|a/b|x\nf|a\\b|x\nf|a\x00b|x", "")
	f.Add("l|esc|../outside\nf|esc>pwned|x\nd|esc|\nf|esc>pwned2|x", "")
	f.Add("d|d|\nf|d>f|1\nl|d|../outside\nf|d>g|2\nl|e|/tmp\n100644|e|x", "d")
	f.Add("f|dup|1\nf|dup|2\nl|s|../../outside/x\n160000|sub|x\n40000|dir|\n0|zero|z\n777|odd|o", "dir,sub")
	f.Add("d|a|\nl|a>b|../../outside\nf|a>b>c|x", "a/b")
	f.Fuzz(func(t *testing.T, spec, sparseSpec string) {
		if len(spec) > 4096 || strings.Count(spec, "\n") > 64 {
			return
		}
		st := memory.NewStorage()
		h, err := buildSpec(spec).store(st)
		if err != nil {
			return
		}
		tree, err := object.GetTree(st, h)
		if err != nil {
			return
		}
		var sparse []string
		if sparseSpec != "" {
			if sparse, err = cleanSparse(strings.Split(sparseSpec, ",")); err != nil {
				return
			}
		}
		base := t.TempDir()
		dir, outside := filepath.Join(base, "out"), filepath.Join(base, "outside")
		for _, d := range []string{dir, outside} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = writeTree(ctx, st, tree, dir, sparse)

		if entries, err := os.ReadDir(outside); err != nil || len(entries) != 0 {
			t.Fatalf("the checkout wrote outside its directory: %v %v", entries, err)
		}
		if entries, err := os.ReadDir(base); err != nil || len(entries) != 2 {
			t.Fatalf("the checkout wrote next to its directory: %v %v", entries, err)
		}
		err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.EqualFold(d.Name(), ".git") {
				t.Errorf("the checkout holds %s", p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
