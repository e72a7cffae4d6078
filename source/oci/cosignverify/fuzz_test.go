package cosignverify_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/source/oci/cosignverify"
)

const fuzzDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func FuzzParsePayload(f *testing.F) {
	f.Add(payloadFor("host/app", fuzzDigest))
	f.Add([]byte(`{"critical":{"image":{"docker-manifest-digest":"sha512:00"},"type":"cosign container image signature"}}`))
	f.Add([]byte(`{"critical":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := cosignverify.ParsePayload(data)
		if err != nil {
			if d != "" {
				t.Fatalf("digest %q with error %v", d, err)
			}
			return
		}
		if !strings.HasPrefix(d, "sha256:") || len(d) != len(fuzzDigest) {
			t.Fatalf("accepted digest %q", d)
		}
	})
}

func FuzzSignature(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	p := payloadFor("host/app", fuzzDigest)
	h := sha256.Sum256(p)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		f.Fatal(err)
	}
	f.Add("", p)
	f.Add("AAAA", p)
	f.Add("%%", p)
	f.Add(string(sig), []byte("{}"))
	f.Fuzz(func(t *testing.T, annotation string, payload []byte) {
		s, err := cosignverify.DecodeSignature(annotation)
		if err != nil {
			return
		}
		if cosignverify.VerifySignature([]crypto.PublicKey{&key.PublicKey}, payload, s) && string(payload) != string(p) {
			t.Fatalf("signature %x verified for another payload %q", s, payload)
		}
	})
}
