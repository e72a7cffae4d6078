package git

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"

	"golang.org/x/crypto/ssh"
)

// This file implements verification of SSH signatures in the format
// OpenSSH's ssh-keygen -Y sign produces and git stores in commits and tags
// (PROTOCOL.sshsig).

const (
	sshsigMagic   = "SSHSIG"
	sshsigVersion = 1
	sshsigBegin   = "-----BEGIN SSH SIGNATURE-----"
	sshsigEnd     = "-----END SSH SIGNATURE-----"
	// gitNamespace is the namespace git signs commits and tags in.
	gitNamespace = "git"
)

// sshSignature is a decoded SSHSIG blob.
type sshSignature struct {
	PublicKey     ssh.PublicKey
	Namespace     string
	HashAlgorithm string
	Signature     *ssh.Signature
}

// parseSSHSignature decodes an armored SSH signature.
func parseSSHSignature(armored string) (_ *sshSignature, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed SSH signature: %v", r)
		}
	}()
	s := strings.TrimSpace(armored)
	if !strings.HasPrefix(s, sshsigBegin) || !strings.HasSuffix(s, sshsigEnd) {
		return nil, errors.New("SSH signature is not armored")
	}
	body := strings.Join(strings.Fields(s[len(sshsigBegin):len(s)-len(sshsigEnd)]), "")
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, errors.New("SSH signature is not valid base64")
	}
	if !bytes.HasPrefix(raw, []byte(sshsigMagic)) {
		return nil, errors.New("SSH signature lacks the SSHSIG preamble")
	}
	var blob struct {
		Version       uint32
		PublicKey     []byte
		Namespace     string
		Reserved      string
		HashAlgorithm string
		Signature     []byte
	}
	if err := ssh.Unmarshal(raw[len(sshsigMagic):], &blob); err != nil {
		return nil, fmt.Errorf("SSH signature does not decode: %w", err)
	}
	if blob.Version != sshsigVersion {
		return nil, fmt.Errorf("SSH signature version %d is not supported", blob.Version)
	}
	pub, err := ssh.ParsePublicKey(blob.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("SSH signature carries an unparsable public key: %w", err)
	}
	sig := new(ssh.Signature)
	if err := ssh.Unmarshal(blob.Signature, sig); err != nil {
		return nil, fmt.Errorf("SSH signature blob does not decode: %w", err)
	}
	return &sshSignature{PublicKey: pub, Namespace: blob.Namespace, HashAlgorithm: blob.HashAlgorithm, Signature: sig}, nil
}

// verifySSHSignature checks that armored is a valid signature of message
// in namespace by one of keys, returning the key that signed.
func verifySSHSignature(armored string, message []byte, namespace string, keys []ssh.PublicKey) (ssh.PublicKey, error) {
	sig, err := parseSSHSignature(armored)
	if err != nil {
		return nil, err
	}
	if sig.Namespace != namespace {
		return nil, fmt.Errorf("SSH signature namespace is %q, want %q", sig.Namespace, namespace)
	}
	var h hash.Hash
	switch sig.HashAlgorithm {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		return nil, fmt.Errorf("SSH signature hash algorithm %q is not supported", sig.HashAlgorithm)
	}
	if sig.Signature.Format == ssh.KeyAlgoRSA {
		return nil, errors.New("SSH signature uses ssh-rsa (SHA-1), which is not accepted")
	}
	var signer ssh.PublicKey
	for _, k := range keys {
		if bytes.Equal(k.Marshal(), sig.PublicKey.Marshal()) {
			signer = k
			break
		}
	}
	if signer == nil {
		return nil, fmt.Errorf("signed by %s, which is not an expected key", ssh.FingerprintSHA256(sig.PublicKey))
	}
	h.Write(message)
	signed := []byte(sshsigMagic)
	signed = append(signed, ssh.Marshal(struct {
		Namespace     string
		Reserved      string
		HashAlgorithm string
		Hash          []byte
	}{namespace, "", sig.HashAlgorithm, h.Sum(nil)})...)
	if err := signer.Verify(signed, sig.Signature); err != nil {
		return nil, fmt.Errorf("SSH signature by %s does not match the signed content", ssh.FingerprintSHA256(signer))
	}
	return signer, nil
}
