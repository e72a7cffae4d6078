package helmrepository

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/examples/ocirepository"
	"github.com/gitopskit/gitopskit/source/helm"
	"github.com/gitopskit/gitopskit/source/oci"
)

// ErrNotSupported reports a spec field whose feature this controller does
// not implement yet; the object is Stalled until the field changes.
var ErrNotSupported = errors.New("not supported yet")

// ErrInvalidURL reports a spec.url that does not fit spec.type: not an
// absolute http(s) URL without credentials for the default type, not an
// oci:// URL for type "oci".
var ErrInvalidURL = errors.New("invalid Helm repository URL")

// IsOCI reports whether spec describes an OCI Helm repository (spec.type
// "oci"), which Flux keeps static: no artifact, no status.
func IsOCI(spec sourcev1.HelmRepositorySpec) bool {
	return spec.Type == sourcev1.HelmRepositoryTypeOCI
}

// CheckURL returns an error wrapping ErrInvalidURL when spec.url does not
// fit spec.type, worded as Flux words it.
func CheckURL(spec sourcev1.HelmRepositorySpec) error {
	u, err := url.Parse(spec.URL)
	if err != nil {
		return fmt.Errorf("%w: %q does not parse", ErrInvalidURL, spec.URL)
	}
	switch {
	case IsOCI(spec) && u.Scheme != "oci":
		return fmt.Errorf("%w: '%s' is not an 'oci://' URL", ErrInvalidURL, u.Redacted())
	case !IsOCI(spec) && u.Scheme == "oci":
		return fmt.Errorf("%w: 'oci' URL scheme cannot be used with 'default' HelmRepository type", ErrInvalidURL)
	case !IsOCI(spec) && u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w: scheme '%s' is not http or https", ErrInvalidURL, u.Scheme)
	case u.Host == "":
		return fmt.Errorf("%w: '%s' has no host", ErrInvalidURL, u.Redacted())
	case u.User != nil:
		return fmt.Errorf("%w: credentials in the URL are refused, use spec.secretRef", ErrInvalidURL)
	}
	return nil
}

// Unsupported returns an error wrapping ErrNotSupported when spec asks for
// something this controller does not do: a cloud provider login
// (spec.provider other than "generic" on an OCI repository).
func Unsupported(spec sourcev1.HelmRepositorySpec) error {
	if p := spec.Provider; p != "" && p != sourcev1.GenericOCIProvider {
		return fmt.Errorf("spec.provider '%s' is %w: use 'generic' with spec.secretRef", p, ErrNotSupported)
	}
	return nil
}

// Repository maps an HTTP(S) HelmRepository to a helm.Repository, its
// Client set from the object's Secrets (see Client); cache may be nil.
func Repository(ctx context.Context, r client.Reader, obj *sourcev1.HelmRepository, cache *helm.IndexCache) (*helm.Repository, error) {
	c, err := Client(ctx, r, obj)
	if err != nil {
		return nil, err
	}
	return &helm.Repository{URL: obj.Spec.URL, Client: c, Cache: cache}, nil
}

// Client returns the helm.Client of an HTTP(S) HelmRepository: basic
// credentials from spec.secretRef ("username" and "password"), TLS from
// spec.certSecretRef ("ca.crt", "tls.crt", "tls.key"), and
// spec.passCredentials. A Secret that cannot be read or used is an error
// naming the Secret, never its values.
func Client(ctx context.Context, r client.Reader, obj *sourcev1.HelmRepository) (helm.Client, error) {
	c := helm.Client{PassCredentials: obj.Spec.PassCredentials}
	if ref := obj.Spec.SecretRef; ref != nil {
		data, err := fluxadapter.SecretData(ctx, r, obj.Namespace, ref.Name)
		if err == nil {
			err = Credentials(&c, data)
		}
		if err != nil {
			return c, fmt.Errorf("invalid Secret %q: %w", ref.Name, err)
		}
	}
	if ref := obj.Spec.CertSecretRef; ref != nil {
		data, err := fluxadapter.SecretData(ctx, r, obj.Namespace, ref.Name)
		if err == nil {
			err = TLS(&c, data)
		}
		if err != nil {
			return c, fmt.Errorf("invalid TLS Secret %q: %w", ref.Name, err)
		}
	}
	return c, nil
}

// OCIClient returns the oci.Client of an OCI HelmRepository: a
// dockerconfigjson or basic-auth spec.secretRef, spec.certSecretRef and
// spec.insecure (plain HTTP), as for an OCIRepository.
func OCIClient(ctx context.Context, r client.Reader, obj *sourcev1.HelmRepository) (oci.Client, error) {
	c := oci.Client{Insecure: obj.Spec.Insecure}
	if ref := obj.Spec.SecretRef; ref != nil {
		data, err := fluxadapter.SecretData(ctx, r, obj.Namespace, ref.Name)
		if err == nil {
			err = ocirepository.Credentials(&c, data)
		}
		if err != nil {
			return c, fmt.Errorf("invalid Secret %q: %w", ref.Name, err)
		}
	}
	if ref := obj.Spec.CertSecretRef; ref != nil {
		data, err := fluxadapter.SecretData(ctx, r, obj.Namespace, ref.Name)
		if err == nil {
			err = ocirepository.TLS(&c, data)
		}
		if err != nil {
			return c, fmt.Errorf("invalid TLS Secret %q: %w", ref.Name, err)
		}
	}
	return c, nil
}

// Credentials sets the basic credentials of c from a secretRef Secret's
// data: "username" and "password", both required, as in Flux.
func Credentials(c *helm.Client, data map[string][]byte) error {
	user, pass := string(data["username"]), string(data["password"])
	if user == "" || pass == "" {
		return errors.New("required fields 'username' and 'password' are not both set")
	}
	c.Auth = &helm.BasicAuth{Username: user, Password: pass}
	return nil
}

// TLS sets the TLS configuration of c from a certSecretRef Secret's data.
func TLS(c *helm.Client, data map[string][]byte) error {
	t, err := fluxadapter.TLSFromSecretData(data)
	if err != nil {
		return err
	}
	c.TLS = &helm.TLS{CA: t.CA, CertPEM: t.Cert, KeyPEM: t.Key}
	return nil
}
