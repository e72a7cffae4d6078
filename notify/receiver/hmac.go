package receiver

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// maxSignatureLen bounds the signature header parsed: "sha512=" and 128
// hex digits, with room to spare.
const maxSignatureLen = 256

// hashFor returns the hash a signature prefix names.
func hashFor(name string) func() hash.Hash {
	switch name {
	case "sha1":
		return sha1.New
	case "sha256":
		return sha256.New
	case "sha512":
		return sha512.New
	}
	return nil
}

// parseSignature splits "<alg>=<hex>" into the hash and the MAC bytes.
// allowed lists the algorithms accepted. Errors never quote the value.
func parseSignature(sig string, allowed ...string) (func() hash.Hash, []byte, error) {
	if sig == "" {
		return nil, nil, fmt.Errorf("%w: missing signature", ErrUnauthenticated)
	}
	if len(sig) > maxSignatureLen {
		return nil, nil, fmt.Errorf("%w: signature too long", ErrUnauthenticated)
	}
	alg, hexMAC, ok := strings.Cut(sig, "=")
	if !ok {
		return nil, nil, fmt.Errorf("%w: signature is not <algorithm>=<hex>", ErrUnauthenticated)
	}
	permitted := false
	for _, a := range allowed {
		if alg == a {
			permitted = true
		}
	}
	newHash := hashFor(alg)
	if !permitted || newHash == nil {
		return nil, nil, fmt.Errorf("%w: unsupported signature algorithm", ErrUnauthenticated)
	}
	mac, err := hex.DecodeString(hexMAC)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: signature is not hexadecimal", ErrUnauthenticated)
	}
	return newHash, mac, nil
}

// checkSignature verifies "<alg>=<hex>" as the HMAC of body keyed with
// key, in constant time.
func checkSignature(sig string, key, body []byte, allowed ...string) error {
	newHash, mac, err := parseSignature(sig, allowed...)
	if err != nil {
		return err
	}
	if !hmac.Equal(mac, computeHMAC(newHash, key, body)) {
		return fmt.Errorf("%w: signature mismatch", ErrUnauthenticated)
	}
	return nil
}

// checkHexHMAC verifies a bare hex MAC (no algorithm prefix) of body.
func checkHexHMAC(newHash func() hash.Hash, hexMAC string, key, body []byte) error {
	if hexMAC == "" {
		return fmt.Errorf("%w: missing signature", ErrUnauthenticated)
	}
	if len(hexMAC) > maxSignatureLen {
		return fmt.Errorf("%w: signature too long", ErrUnauthenticated)
	}
	mac, err := hex.DecodeString(hexMAC)
	if err != nil {
		return fmt.Errorf("%w: signature is not hexadecimal", ErrUnauthenticated)
	}
	if !hmac.Equal(mac, computeHMAC(newHash, key, body)) {
		return fmt.Errorf("%w: signature mismatch", ErrUnauthenticated)
	}
	return nil
}

func computeHMAC(newHash func() hash.Hash, key, body []byte) []byte {
	m := hmac.New(newHash, key)
	m.Write(body)
	return m.Sum(nil)
}
