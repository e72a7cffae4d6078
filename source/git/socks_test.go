package git_test

import (
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gitopskit/gitopskit/source/git"
	"github.com/gitopskit/gitopskit/source/git/gittest"
)

// socks5Server is a minimal SOCKS5 (no auth, CONNECT only) proxy that
// counts the connections it relays.
func socks5Server(t *testing.T) (addr string, conns *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				hdr := make([]byte, 2)
				if _, err := io.ReadFull(c, hdr); err != nil || hdr[0] != 5 {
					return
				}
				if _, err := io.ReadFull(c, make([]byte, hdr[1])); err != nil {
					return
				}
				c.Write([]byte{5, 0})
				req := make([]byte, 4)
				if _, err := io.ReadFull(c, req); err != nil || req[1] != 1 {
					return
				}
				var host string
				switch req[3] {
				case 1:
					ip := make([]byte, 4)
					io.ReadFull(c, ip)
					host = net.IP(ip).String()
				case 3:
					n := make([]byte, 1)
					io.ReadFull(c, n)
					name := make([]byte, n[0])
					io.ReadFull(c, name)
					host = string(name)
				default:
					return
				}
				pb := make([]byte, 2)
				io.ReadFull(c, pb)
				host = strings.Replace(host, "gitserver.test", "127.0.0.1", 1)
				up, err := net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(pb)))))
				if err != nil {
					c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
					return
				}
				defer up.Close()
				conns.Add(1)
				c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
				go func() {
					io.Copy(up, c)
					up.Close()
				}()
				io.Copy(c, up)
			}()
		}
	}()
	return ln.Addr().String(), conns
}

func TestSOCKS5ProxyOverSSHAndHTTP(t *testing.T) {
	proxyAddr, conns := socks5Server(t)
	proxy := &git.Proxy{URL: "socks5://" + proxyAddr}

	sshSrv := gittest.NewSSHServer(t)
	sshRepo := sshSrv.NewRepo(t, "app")
	sshRepo.Commit("c", map[string]string{"a": "ssh via socks"})
	_, dir, err := fetch(t, &git.Repository{URL: sshRepo.URL, Ref: git.Reference{Branch: "main"}, Proxy: proxy,
		Auth: &git.Auth{Identity: sshSrv.ClientKey, KnownHosts: sshSrv.KnownHosts}}, "")
	if err != nil {
		t.Fatalf("SSH through SOCKS5: %v", err)
	}
	if readTree(t, dir)["a"] != "ssh via socks" {
		t.Fatal("wrong content")
	}
	viaSSH := conns.Load()
	if viaSSH == 0 {
		t.Fatal("the SSH fetch bypassed the proxy")
	}

	httpSrv := gittest.NewHTTPServer(t)
	httpRepo := httpSrv.NewRepo(t, "app")
	httpRepo.Commit("c", map[string]string{"a": "http via socks"})
	url := strings.Replace(httpRepo.URL, "127.0.0.1", "gitserver.test", 1)
	if _, _, err := fetch(t, &git.Repository{URL: url, Ref: git.Reference{Branch: "main"}, Proxy: proxy}, ""); err != nil {
		t.Fatalf("HTTP through SOCKS5: %v", err)
	}
	if conns.Load() == viaSSH {
		t.Fatal("the HTTP fetch bypassed the proxy")
	}
}
