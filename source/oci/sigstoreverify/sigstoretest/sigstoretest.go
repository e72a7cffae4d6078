package sigstoretest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gitopskit/gitopskit/source/oci/ocitest"
	"github.com/gitopskit/gitopskit/source/oci/sigstoreverify"
)

var (
	oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}
	oidIssuer  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
)

// Sigstore is a private Sigstore instance. Build it with New.
type Sigstore struct {
	virtual   *ca.VirtualSigstore
	fulcio    *root.FulcioCertificateAuthority
	interKey  *ecdsa.PrivateKey
	ctKey     *ecdsa.PrivateKey
	ctLogID   [32]byte
	rootJSON  []byte
	trustRoot *root.TrustedRoot
}

// New creates the instance's keys and certificates.
func New() (*Sigstore, error) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		return nil, err
	}
	rootCert, rootKey, err := ca.GenerateRootCa()
	if err != nil {
		return nil, err
	}
	inter, interKey, err := ca.GenerateFulcioIntermediate(rootCert, rootKey)
	if err != nil {
		return nil, err
	}
	ctKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(ctKey.Public())
	if err != nil {
		return nil, err
	}
	now := time.Now()
	s := &Sigstore{
		virtual:  vs,
		fulcio:   &root.FulcioCertificateAuthority{Root: rootCert, Intermediates: []*x509.Certificate{inter}, URI: "https://fulcio.sigstoretest.invalid", ValidityPeriodStart: now.Add(-time.Hour), ValidityPeriodEnd: now.Add(24 * time.Hour)},
		interKey: interKey,
		ctKey:    ctKey,
		ctLogID:  sha256.Sum256(spki),
	}
	ctLogs := map[string]*root.TransparencyLog{hex.EncodeToString(s.ctLogID[:]): {
		BaseURL: "https://ctfe.sigstoretest.invalid", ID: s.ctLogID[:], HashFunc: crypto.SHA256, SignatureHashFunc: crypto.SHA256,
		PublicKey: ctKey.Public(), ValidityPeriodStart: now.Add(-time.Hour),
	}}
	rekorLogs := map[string]*root.TransparencyLog{}
	for id, l := range vs.RekorLogs() {
		c := *l
		if c.ID, err = hex.DecodeString(id); err != nil {
			return nil, err
		}
		rekorLogs[id] = &c
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, []root.CertificateAuthority{s.fulcio}, ctLogs, vs.TimestampingAuthorities(), rekorLogs)
	if err != nil {
		return nil, err
	}
	if s.rootJSON, err = tr.MarshalJSON(); err != nil {
		return nil, err
	}
	// What a verifier reads is the JSON: parse it back.
	if s.trustRoot, err = root.NewTrustedRootFromJSON(s.rootJSON); err != nil {
		return nil, err
	}
	return s, nil
}

// TrustedRootJSON returns the instance's trusted_root.json.
func (s *Sigstore) TrustedRootJSON() []byte { return append([]byte(nil), s.rootJSON...) }

// TrustedRoot returns the instance's trusted root, parsed.
func (s *Sigstore) TrustedRoot() *root.TrustedRoot { return s.trustRoot }

// Statement returns the in-toto statement `cosign sign` v3 signs for the
// manifest digest "sha256:<hex>", with the given predicate type
// (sigstoreverify.CosignSignPredicateType for a signature).
func Statement(digest, predicateType string) []byte {
	algo, hexDigest, _ := strings.Cut(digest, ":")
	return fmt.Appendf(nil, `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{%q:%q}}],"predicateType":%q,"predicate":{}}`,
		algo, hexDigest, predicateType)
}

// SignKeyless signs statement as `cosign sign` does keylessly for the
// OIDC subject (an e-mail address, or a URI such as a workflow's) and
// issuer: a fresh key, a certificate for it with an embedded SCT, a DSSE
// envelope, a log entry with its inclusion proof, and an RFC 3161
// timestamp. It returns the bundle's JSON.
func (s *Sigstore) SignKeyless(subject, issuer string, statement []byte) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leaf, err := s.leaf(subject, issuer, key)
	if err != nil {
		return nil, err
	}
	env, sig, err := sign(key, statement)
	if err != nil {
		return nil, err
	}
	entry, err := s.virtual.GenerateTlogEntry(leaf, env, sig, time.Now().Unix(), true)
	if err != nil {
		return nil, err
	}
	tle, err := s.logEntry(entry)
	if err != nil {
		return nil, err
	}
	tsr, err := s.virtual.TimestampResponse(sig)
	if err != nil {
		return nil, err
	}
	return marshal(&protobundle.VerificationMaterial{
		Content:                   &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: leaf.Raw}},
		TlogEntries:               []*protorekor.TransparencyLogEntry{tle},
		TimestampVerificationData: &protobundle.TimestampVerificationData{Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: tsr}}},
	}, env)
}

// logEntry is entry as a bundle holds it: its kind and version, and the
// log's promise of inclusion (the signed entry timestamp).
func (s *Sigstore) logEntry(entry *tlog.Entry) (*protorekor.TransparencyLogEntry, error) {
	tle := proto.Clone(entry.TransparencyLogEntry()).(*protorekor.TransparencyLogEntry)
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	set, err := s.virtual.RekorSignPayload(tlog.RekorPayload{
		Body: entry.Body(), IntegratedTime: tle.GetIntegratedTime(), LogIndex: tle.GetLogIndex(), LogID: hex.EncodeToString(tle.GetLogId().GetKeyId()),
	})
	if err != nil {
		return nil, err
	}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	return tle, nil
}

// SignWithKey signs statement with an ECDSA P-256 key as `cosign sign
// --key` does when the log is skipped: the bundle names the key by a hint
// and carries no log entry. It returns the bundle's JSON.
func SignWithKey(key *ecdsa.PrivateKey, statement []byte) ([]byte, error) {
	env, _, err := sign(key, statement)
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	hint := sha256.Sum256(spki)
	return marshal(&protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: base64.StdEncoding.EncodeToString(hint[:])}},
	}, env)
}

// Attach pushes bundle as cosign v3 attaches it to the manifest digest of
// repo: an OCI 1.1 referrer of artifactType
// sigstoreverify.BundleMediaType with the bundle as its one layer. On a
// registry without the referrers API it lands in the referrers tag.
func Attach(ctx context.Context, reg *ocitest.Registry, repo, digest string, bundle []byte) (string, error) {
	return reg.PushReferrer(ctx, repo, digest, sigstoreverify.BundleMediaType, map[string]string{
		sigstoreverify.ContentAnnotation:       "dsse-envelope",
		sigstoreverify.PredicateTypeAnnotation: sigstoreverify.CosignSignPredicateType,
	}, ocitest.Layer{MediaType: sigstoreverify.BundleMediaType, Data: bundle})
}

// sign returns the DSSE envelope of statement signed by key, and the raw
// signature.
func sign(key *ecdsa.PrivateKey, statement []byte) (*dsse.Envelope, []byte, error) {
	pae := dsse.PAE(sigstoreverify.InTotoPayloadType, statement)
	h := sha256.Sum256(pae)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		return nil, nil, err
	}
	return &dsse.Envelope{
		PayloadType: sigstoreverify.InTotoPayloadType,
		Payload:     base64.StdEncoding.EncodeToString(statement),
		Signatures:  []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}},
	}, sig, nil
}

// marshal writes a v0.3 bundle of the material and envelope.
func marshal(vm *protobundle.VerificationMaterial, env *dsse.Envelope) ([]byte, error) {
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		return nil, err
	}
	b := &protobundle.Bundle{
		MediaType:            sigstoreverify.BundleMediaType,
		VerificationMaterial: vm,
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload:     mustDecode(env.Payload),
			PayloadType: env.PayloadType,
			Signatures:  []*protodsse.Signature{{Sig: sig}},
		}},
	}
	return protojson.Marshal(b)
}

func mustDecode(s string) []byte {
	b, _ := base64.StdEncoding.DecodeString(s)
	return b
}

// leaf issues a certificate for key with the identity, valid from a minute
// ago for ten minutes, with an SCT of the instance's CT log embedded.
func (s *Sigstore) leaf(subject, issuer string, key *ecdsa.PrivateKey) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(10 * time.Minute),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	if strings.Contains(subject, "://") {
		u, err := parseURI(subject)
		if err != nil {
			return nil, err
		}
		tmpl.URIs = u
	} else {
		tmpl.EmailAddresses = []string{subject}
	}
	issue := func(sctList []byte) (*x509.Certificate, error) {
		t := *tmpl
		t.ExtraExtensions = []pkix.Extension{{Id: oidIssuer, Value: []byte(issuer)}, {Id: oidSCTList, Value: sctList}}
		der, err := x509.CreateCertificate(rand.Reader, &t, s.fulcio.Intermediates[0], key.Public(), s.interKey)
		if err != nil {
			return nil, err
		}
		return x509.ParseCertificate(der)
	}
	// The SCT signs the certificate without its SCT list: issue it once
	// with a placeholder list to learn that, then with the real one.
	sct := ct.SignedCertificateTimestamp{SCTVersion: ct.V1, LogID: ct.LogID{KeyID: s.ctLogID}, Timestamp: uint64(now.UnixMilli()),
		Signature: ct.DigitallySigned{Algorithm: cttls.SignatureAndHashAlgorithm{Hash: cttls.SHA256, Signature: cttls.ECDSA}, Signature: []byte{0}}}
	placeholder, err := sctList(sct)
	if err != nil {
		return nil, err
	}
	pre, err := issue(placeholder)
	if err != nil {
		return nil, err
	}
	chain, err := ctx509.ParseCertificates(append(append([]byte(nil), pre.Raw...), s.fulcio.Intermediates[0].Raw...))
	if err != nil {
		return nil, err
	}
	mtl, err := ct.MerkleTreeLeafForEmbeddedSCT(chain, sct.Timestamp)
	if err != nil {
		return nil, err
	}
	input, err := ct.SerializeSCTSignatureInput(sct, ct.LogEntry{Leaf: *mtl})
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(input)
	sig, err := ecdsa.SignASN1(rand.Reader, s.ctKey, h[:])
	if err != nil {
		return nil, err
	}
	sct.Signature.Signature = sig
	ext, err := sctList(sct)
	if err != nil {
		return nil, err
	}
	return issue(ext)
}

// sctList is the value of the SCT list extension holding sct.
func sctList(sct ct.SignedCertificateTimestamp) ([]byte, error) {
	raw, err := cttls.Marshal(sct)
	if err != nil {
		return nil, err
	}
	list, err := cttls.Marshal(ctx509.SignedCertificateTimestampList{SCTList: []ctx509.SerializedSCT{{Val: raw}}})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(list)
}

func parseURI(s string) ([]*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("subject URI: %w", err)
	}
	return []*url.URL{u}, nil
}
