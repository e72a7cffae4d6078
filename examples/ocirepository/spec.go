package ocirepository

import (
	"errors"
	"fmt"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/source/oci"
)

// ErrNotSupported reports a spec field whose feature this controller does
// not implement yet; the object is Stalled until the field is removed.
var ErrNotSupported = errors.New("not supported yet")

// Repository maps the spec of an OCIRepository to an oci.Repository without
// credentials, TLS or proxy (those come from Secrets; see Credentials).
// spec.ref's precedence is Flux's (digest, then semver, then tag); no
// reference means the "latest" tag.
func Repository(spec sourcev1.OCIRepositorySpec) *oci.Repository {
	r := &oci.Repository{URL: spec.URL, Client: oci.Client{Insecure: spec.Insecure}}
	if ref := spec.Reference; ref != nil {
		r.Ref = oci.Reference{Digest: ref.Digest, SemVer: ref.SemVer, SemVerFilter: ref.SemverFilter, Tag: ref.Tag}
	}
	if ls := spec.LayerSelector; ls != nil {
		r.Layer = oci.LayerSelector{MediaType: ls.MediaType, Operation: oci.LayerOperation(ls.Operation)}
	}
	return r
}

// Unsupported returns an error wrapping ErrNotSupported when spec asks for
// something this controller does not do: signature verification other
// than cosign (spec.verify with the notation provider), a cloud provider login (spec.provider other than
// "generic") or the image pull secrets of a service account
// (spec.serviceAccountName). Silently skipping any of them would fetch an
// artifact the user did not ask for, or fetch it unverified.
func Unsupported(spec sourcev1.OCIRepositorySpec) error {
	if v := spec.Verify; v != nil && v.Provider != "cosign" {
		return fmt.Errorf("spec.verify provider '%s' is %w: use 'cosign'", v.Provider, ErrNotSupported)
	}
	if p := spec.Provider; p != "" && p != sourcev1.GenericOCIProvider {
		return fmt.Errorf("spec.provider '%s' is %w: use 'generic' with spec.secretRef", p, ErrNotSupported)
	}
	if spec.ServiceAccountName != "" {
		return fmt.Errorf("spec.serviceAccountName is %w: use spec.secretRef", ErrNotSupported)
	}
	return nil
}

// Credentials sets the registry credentials of c from a secretRef Secret's
// data: a kubernetes.io/dockerconfigjson Secret (".dockerconfigjson") or a
// basic-auth one ("username" and "password").
func Credentials(c *oci.Client, data map[string][]byte) error {
	if cfg, ok := data[".dockerconfigjson"]; ok {
		kc, err := oci.KeychainFromDockerConfig(cfg)
		if err != nil {
			return err
		}
		c.Keychain = kc
		return nil
	}
	user, pass := string(data["username"]), string(data["password"])
	if user == "" || pass == "" {
		return errors.New("neither '.dockerconfigjson' nor 'username' and 'password' are set")
	}
	c.Auth = &oci.Auth{Username: user, Password: pass}
	return nil
}

// TLS sets the TLS configuration of c from a certSecretRef Secret's data.
func TLS(c *oci.Client, data map[string][]byte) error {
	t, err := fluxadapter.TLSFromSecretData(data)
	if err != nil {
		return err
	}
	c.TLS = &oci.TLS{CA: t.CA, CertPEM: t.Cert, KeyPEM: t.Key}
	return nil
}

// canSkip reports whether the last artifact may short-circuit the fetch:
// only the registry can have changed it since (the ignore rules and the
// layer selector it was made with are still the spec's).
func canSkip(obj *sourcev1.OCIRepository) bool {
	st := obj.Status
	if st.Artifact == nil || !fluxadapter.EqualString(st.ObservedIgnore, obj.Spec.Ignore) {
		return false
	}
	a, b := st.ObservedLayerSelector, obj.Spec.LayerSelector
	if a == nil || b == nil {
		return a == b
	}
	return a.MediaType == b.MediaType && operation(a.Operation) == operation(b.Operation)
}

// operation returns a layer operation with Flux's default, extract.
func operation(op string) string {
	if op == "" {
		return sourcev1.OCILayerExtract
	}
	return op
}
