package git

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"
)

// VerifyMode selects which objects are verified, with Flux's names.
type VerifyMode string

// Verification modes.
const (
	// VerifyHEAD verifies the signature of the checked-out commit.
	VerifyHEAD VerifyMode = "HEAD"
	// VerifyTag verifies the signature of the annotated tag (for Tag and
	// SemVer references only).
	VerifyTag VerifyMode = "Tag"
	// VerifyTagAndHEAD verifies both the tag and the commit it points to.
	VerifyTagAndHEAD VerifyMode = "TagAndHEAD"
)

// Verification configures signature checks. An object passes when it is
// signed by any one of the keys.
type Verification struct {
	// Mode selects what is verified; empty means VerifyHEAD. Flux's
	// lower-case "head" is accepted too.
	Mode VerifyMode
	// PGPKeyRings are armored OpenPGP public key rings (each may hold
	// several keys), as found in the values of a Flux verification Secret.
	PGPKeyRings []string
	// SSHKeys are public keys in authorized_keys format (one per line; a
	// value may hold several lines) for SSH-signed objects.
	SSHKeys []string
}

// verifier is a Verification with its keys parsed.
type verifier struct {
	mode    VerifyMode
	pgp     []string // armored rings
	pgpIDs  []string // their key IDs, for messages
	ssh     []ssh.PublicKey
	sshName []string
}

func (v *Verification) compile() (*verifier, error) {
	if v == nil {
		return nil, nil
	}
	out := &verifier{mode: v.Mode}
	switch strings.ToLower(string(v.Mode)) {
	case "", "head":
		out.mode = VerifyHEAD
	case "tag":
		out.mode = VerifyTag
	case "tagandhead":
		out.mode = VerifyTagAndHEAD
	default:
		return nil, invalidf("verification mode %q is not one of HEAD, Tag, TagAndHEAD", v.Mode)
	}
	for i, ring := range v.PGPKeyRings {
		entities, err := readKeyRing(ring)
		if err != nil {
			return nil, invalidf("PGP key ring #%d does not parse: %v", i+1, err)
		}
		for _, e := range entities {
			out.pgpIDs = append(out.pgpIDs, "PGP "+e.PrimaryKey.KeyIdString())
		}
		out.pgp = append(out.pgp, ring)
	}
	for i, block := range v.SSHKeys {
		rest := []byte(block)
		for len(bytes.TrimSpace(rest)) > 0 {
			pub, _, _, r, err := ssh.ParseAuthorizedKey(rest)
			if err != nil {
				return nil, invalidf("SSH public key #%d does not parse as authorized_keys", i+1)
			}
			out.ssh = append(out.ssh, pub)
			out.sshName = append(out.sshName, "SSH "+ssh.FingerprintSHA256(pub))
			rest = r
		}
	}
	if len(out.pgp) == 0 && len(out.ssh) == 0 {
		return nil, invalidf("verification is enabled but no PGP or SSH public keys were given")
	}
	return out, nil
}

func (v *verifier) expected() string {
	return strings.Join(append(append([]string(nil), v.pgpIDs...), v.sshName...), ", ")
}

// verifySignature checks an object's armored signature over payload and
// returns the name of the key that made it.
func (v *verifier) verifySignature(what, sig string, payload func() ([]byte, error), pgpCheck func(ring string) (*openpgp.Entity, error)) (string, error) {
	if strings.TrimSpace(sig) == "" {
		return "", fmt.Errorf("%s is not signed; expected a signature by one of: %s", what, v.expected())
	}
	switch {
	case strings.Contains(sig, "-----BEGIN PGP SIGNATURE-----"):
		for _, ring := range v.pgp {
			if e, err := pgpCheck(ring); err == nil && e != nil {
				return "PGP " + e.PrimaryKey.KeyIdString(), nil
			}
		}
		return "", fmt.Errorf("%s has a PGP signature that none of the expected keys verifies (expected one of: %s)", what, v.expected())
	case strings.Contains(sig, sshsigBegin):
		msg, err := payload()
		if err != nil {
			return "", err
		}
		key, err := verifySSHSignature(sig, msg, gitNamespace, v.ssh)
		if err != nil {
			return "", fmt.Errorf("%s: %v (expected one of: %s)", what, err, v.expected())
		}
		return "SSH " + ssh.FingerprintSHA256(key), nil
	default:
		return "", fmt.Errorf("%s has a signature in an unsupported format (expected PGP or SSH by one of: %s)", what, v.expected())
	}
}

func (v *verifier) verifyCommit(c *object.Commit) (string, error) {
	return v.verifySignature("commit "+c.Hash.String(), c.PGPSignature,
		func() ([]byte, error) {
			o := &plumbing.MemoryObject{}
			if err := c.EncodeWithoutSignature(o); err != nil {
				return nil, err
			}
			return readObject(o)
		},
		func(ring string) (e *openpgp.Entity, err error) {
			defer recoverInto(&err)
			return c.Verify(ring)
		})
}

func (v *verifier) verifyTag(t *object.Tag) (string, error) {
	return v.verifySignature(fmt.Sprintf("tag %q (%s)", t.Name, t.Hash), t.PGPSignature,
		func() ([]byte, error) {
			o := &plumbing.MemoryObject{}
			if err := t.EncodeWithoutSignature(o); err != nil {
				return nil, err
			}
			return readObject(o)
		},
		func(ring string) (e *openpgp.Entity, err error) {
			defer recoverInto(&err)
			return t.Verify(ring)
		})
}

func readObject(o plumbing.EncodedObject) ([]byte, error) {
	r, err := o.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// readKeyRing parses an armored key ring; a panic in the parser is an
// error.
func readKeyRing(ring string) (_ openpgp.EntityList, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("the key ring parser failed")
		}
	}()
	return openpgp.ReadArmoredKeyRing(strings.NewReader(ring))
}

func recoverInto(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("signature check panicked: %v", r)
	}
}
