package git

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// This file verifies SSH signatures in the format OpenSSH's ssh-keygen -Y
// sign produces and git stores in commits and tags (PROTOCOL.sshsig),
// through github.com/hiddeco/sshsig, the library imagepolicy/gitpush signs
// with, so one implementation signs and verifies.

const (
	sshsigBegin = "-----BEGIN SSH SIGNATURE-----"
	sshsigEnd   = "-----END SSH SIGNATURE-----"
	// gitNamespace is the namespace git signs commits and tags in.
	gitNamespace = "git"
)

// parseSSHSignature decodes an armored SSH signature.
func parseSSHSignature(armored string) (_ *sshsig.Signature, err error) {
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
	sig, err := sshsig.Unarmor(pem.EncodeToMemory(&pem.Block{Type: sshsig.PEMType, Bytes: raw}))
	if err != nil {
		return nil, fmt.Errorf("SSH signature does not decode: %w", err)
	}
	if sig.Signature == nil || sig.PublicKey == nil {
		return nil, errors.New("SSH signature does not decode: it lacks a key or a signature")
	}
	return sig, nil
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
	if err := sig.HashAlgorithm.Supported(); err != nil {
		return nil, fmt.Errorf("SSH signature hash algorithm %q is not supported", string(sig.HashAlgorithm))
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
	if err := sshsig.Verify(bytes.NewReader(message), sig, signer, sig.HashAlgorithm, namespace); err != nil {
		return nil, fmt.Errorf("SSH signature by %s does not match the signed content", ssh.FingerprintSHA256(signer))
	}
	return signer, nil
}
