package gittest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHServer serves the repositories under Root over SSH, running the real
// git-upload-pack or git-receive-pack for every exec request.
type SSHServer struct {
	// Addr is the host:port the server listens on (127.0.0.1:port).
	Addr string
	// Root is the directory whose repositories are served: a repository at
	// Root/name is at ssh://git@Addr/name.
	Root string
	// HostKey is the server's host public key.
	HostKey ssh.PublicKey
	// KnownHosts is a known_hosts line for the server.
	KnownHosts []byte
	// ClientKey is a PEM private key the server accepts (generated unless
	// WithAuthorizedKeys was given).
	ClientKey []byte

	authorized []ssh.PublicKey
	sessions   atomic.Int64
	wg         sync.WaitGroup
	mu         sync.Mutex
	conns      map[net.Conn]bool
	closed     bool
}

// SSHOption configures NewSSHServer.
type SSHOption func(*SSHServer)

// WithAuthorizedKeys accepts exactly these client public keys.
func WithAuthorizedKeys(keys ...ssh.PublicKey) SSHOption {
	return func(s *SSHServer) { s.authorized = append(s.authorized, keys...) }
}

// NewSSHServer starts an SSH Git server on a loopback port serving a fresh
// temporary root, and stops it when the test ends.
func NewSSHServer(t testing.TB, opts ...SSHOption) *SSHServer {
	t.Helper()
	s := &SSHServer{Root: t.TempDir()}
	for _, o := range opts {
		o(s)
	}
	if len(s.authorized) == 0 {
		pemKey, pub := NewClientKey(t, "")
		s.ClientKey = pemKey
		s.authorized = []ssh.PublicKey{pub}
	}
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	s.HostKey = hostSigner.PublicKey()
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			for _, k := range s.authorized {
				if bytes.Equal(k.Marshal(), key.Marshal()) {
					return &ssh.Permissions{}, nil
				}
			}
			return nil, errors.New("unknown public key")
		},
	}
	cfg.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	s.KnownHosts = []byte(knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, s.HostKey) + "\n")
	s.conns = map[net.Conn]bool{}
	t.Cleanup(func() {
		ln.Close()
		// Connections a client left open would otherwise block the wait.
		s.mu.Lock()
		s.closed = true
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				conn.Close()
				return
			}
			s.conns[conn] = true
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				defer func() {
					s.mu.Lock()
					delete(s.conns, conn)
					s.mu.Unlock()
				}()
				s.serveConn(conn, cfg)
			}()
		}
	}()
	return s
}

// URL returns the ssh:// URL of the repository name.
func (s *SSHServer) URL(name string) string {
	return "ssh://git@" + s.Addr + "/" + name
}

// NewRepo creates an empty repository served at URL(name).
func (s *SSHServer) NewRepo(t testing.TB, name string) *Repo {
	t.Helper()
	r := NewRepo(t, filepath.Join(s.Root, filepath.FromSlash(name)))
	r.URL = s.URL(name)
	return r
}

// Sessions counts the git commands the server has run.
func (s *SSHServer) Sessions() int { return int(s.sessions.Load()) }

func (s *SSHServer) serveConn(conn net.Conn, cfg *ssh.ServerConfig) {
	defer conn.Close()
	sc, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveSession(ch, chReqs)
		}()
	}
}

func (s *SSHServer) serveSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var env []string
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if ssh.Unmarshal(req.Payload, &kv) == nil && kv.Name == "GIT_PROTOCOL" {
				env = append(env, "GIT_PROTOCOL="+kv.Value)
			}
			_ = req.Reply(true, nil)
		case "exec":
			var cmd struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &cmd); err != nil {
				_ = req.Reply(false, nil)
				return
			}
			_ = req.Reply(true, nil)
			code := s.run(ch, cmd.Command, env)
			_, _ = ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, uint32(code)))
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}

// run executes one git command line such as "git-upload-pack '/repo'".
func (s *SSHServer) run(ch ssh.Channel, line string, env []string) int {
	verb, arg, _ := strings.Cut(line, " ")
	var sub string
	switch verb {
	case "git-upload-pack", "git-receive-pack", "git-upload-archive":
		sub = strings.TrimPrefix(verb, "git-")
	default:
		fmt.Fprintf(ch.Stderr(), "gittest: command %q not allowed\n", verb)
		return 128
	}
	arg = strings.Trim(strings.TrimSpace(arg), "'\"")
	rel := strings.TrimPrefix(path.Clean("/"+arg), "/")
	dir := filepath.Join(s.Root, filepath.FromSlash(rel))
	if _, err := os.Stat(dir); err != nil || rel == "" {
		fmt.Fprintf(ch.Stderr(), "fatal: '%s' does not appear to be a git repository\n", arg)
		return 128
	}
	s.sessions.Add(1)
	cmd := exec.Command("git", sub, dir)
	cmd.Env = append(os.Environ(), append(env, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")...)
	cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
	// Copy stdin ourselves: a client keeps its side open until it sees the
	// exit status, so waiting for EOF there would deadlock.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 1
	}
	go func() {
		_, _ = io.Copy(stdin, ch)
		stdin.Close()
	}()
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		return 1
	}
	return 0
}
