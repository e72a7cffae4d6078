package git

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func TestSameHost(t *testing.T) {
	tests := []struct {
		parent, sub string
		ok          bool
	}{
		{"https://example.com/org/app", "https://example.com/org/lib", true},
		{"https://example.com/org/app", "https://EXAMPLE.com:443/org/lib", true},
		{"https://user:pw@example.com/org/app", "https://other@example.com/org/lib", true},
		{"http://example.com/app", "https://example.com/lib", true},
		{"http://example.com/app", "http://example.com:80/lib", true},
		{"ssh://git@example.com/app", "git@example.com:org/lib", true},
		{"ssh://git@example.com:22/app", "ssh://git@example.com/lib", true},
		{"https://[::1]:8443/app", "https://[::1]:8443/lib", true},
		{"https://example.com/app", "http://example.com/lib", false},
		{"https://example.com:8443/app", "http://example.com:8443/lib", false},
		{"https://example.com/app", "https://example.com:8443/lib", false},
		{"https://example.com/app", "https://example.com.evil.test/lib", false},
		{"https://example.com/app", "https://10.0.0.1/lib", false},
		{"https://example.com/app", "ssh://git@example.com/lib", false},
		{"ssh://git@example.com/app", "https://example.com/lib", false},
		{"git@example.com:org/app", "git@example.com:2222/lib", true}, // SCP-like: "2222/lib" is a path
		{"ssh://git@example.com/app", "ssh://git@example.com:2222/lib", false},
		{"https://[::1]:8443/app", "https://[::2]:8443/lib", false},
	}
	for _, tt := range tests {
		p, err := parseEndpoint(tt.parent)
		if err != nil {
			t.Fatal(err)
		}
		s, err := parseEndpoint(tt.sub)
		if err != nil {
			t.Fatal(err)
		}
		err = sameHost(p, s)
		if (err == nil) != tt.ok {
			t.Errorf("sameHost(%s, %s) = %v, want ok=%v", tt.parent, tt.sub, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrSubmoduleHost) {
			t.Errorf("sameHost(%s, %s) = %v, does not wrap ErrSubmoduleHost", tt.parent, tt.sub, err)
		}
	}
}

// TestIdentityKDFRoundsCapped hands over an encrypted OpenSSH identity
// whose key derivation asks for 2^30 bcrypt rounds: it is refused at once
// instead of holding the caller for hours.
func TestIdentityKDFRoundsCapped(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	a := &Auth{Identity: pem.EncodeToMemory(block), Password: "passphrase", KnownHosts: []byte("h ssh-ed25519 AAAA")}
	if _, err := a.transportAuth(endpoint{Protocol: "ssh", Host: "h"}); err != nil && strings.Contains(err.Error(), "rounds") {
		t.Fatalf("a key with the default rounds was refused: %v", err)
	}
	// Rewrite the rounds that follow the salt in the KDF options.
	i := bytes.Index(block.Bytes, []byte("bcrypt"))
	if i < 0 {
		t.Fatal("no bcrypt KDF in the key")
	}
	saltLen := i + len("bcrypt") + 4 // past the options' length
	rounds := saltLen + 4 + int(binary.BigEndian.Uint32(block.Bytes[saltLen:]))
	if got := binary.BigEndian.Uint32(block.Bytes[rounds:]); got != 16 {
		t.Fatalf("read %d rounds, want the default 16", got)
	}
	binary.BigEndian.PutUint32(block.Bytes[rounds:], 1<<30)
	a.Identity = pem.EncodeToMemory(block)
	done := make(chan error, 1)
	go func() {
		_, err := a.transportAuth(endpoint{Protocol: "ssh", Host: "h"})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "rounds") {
			t.Fatalf("err = %v, want a refusal naming the rounds", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the key derivation ran with 2^30 rounds")
	}
}
