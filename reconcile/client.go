package reconcile

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/internal/yamlguard"
)

// ErrExecNotAllowed is returned for a kubeconfig whose user runs an exec
// credential plugin or an auth-provider when they are not allowed.
var ErrExecNotAllowed = errors.New("kubeconfig: exec credential plugins and auth providers are not allowed")

// ErrInsecureNotAllowed is returned for a kubeconfig that disables TLS
// verification when that is not allowed.
var ErrInsecureNotAllowed = errors.New("kubeconfig: insecure-skip-tls-verify is not allowed")

// ErrFileReferenceNotAllowed is returned for a kubeconfig that names a file
// (tokenFile, client-certificate, client-key, certificate-authority) when
// file references are not allowed: the file would be read from the
// controller's own file system, and its content sent to the kubeconfig's
// server.
var ErrFileReferenceNotAllowed = errors.New("kubeconfig: file references are not allowed")

// ImpersonateServiceAccount returns a copy of cfg that acts as the service
// account namespace/name (user system:serviceaccount:<namespace>:<name>),
// as Flux does for spec.serviceAccountName. The caller of cfg needs the
// impersonate permission; the service account's RBAC then decides.
func ImpersonateServiceAccount(cfg *rest.Config, namespace, name string) (*rest.Config, error) {
	if cfg == nil {
		return nil, errors.New("impersonation: nil rest config")
	}
	for _, v := range []struct{ what, s string }{{"namespace", namespace}, {"service account name", name}} {
		if errs := validation.IsDNS1123Subdomain(v.s); len(errs) > 0 {
			return nil, fmt.Errorf("impersonation: invalid %s %q: %s", v.what, v.s, errs[0])
		}
	}
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + namespace + ":" + name}
	return c, nil
}

// ImpersonateFor returns the configuration a controller applies an
// object's manifests with: cfg impersonating the service account named
// (spec.serviceAccountName) in the object's namespace or, when named is
// empty, defaultName (Flux's --default-service-account), so that an
// object naming no account still runs under RBAC rather than as the
// controller. With both empty it returns cfg itself. Callers reaching a
// remote cluster through a kubeconfig usually pass no default: the remote
// cluster's RBAC does not know the local accounts.
func ImpersonateFor(cfg *rest.Config, namespace, named, defaultName string) (*rest.Config, error) {
	name := named
	if name == "" {
		name = defaultName
	}
	if name == "" {
		return cfg, nil
	}
	return ImpersonateServiceAccount(cfg, namespace, name)
}

// KubeConfigOptions configures RESTConfigFromKubeConfig. The zero value
// refuses exec credential plugins, auth providers, file references and
// insecure TLS.
type KubeConfigOptions struct {
	// Context selects a context; "" means the kubeconfig's current context.
	Context string
	// AllowExec permits exec credential plugins and auth providers (they
	// run programs on the controller's host).
	AllowExec bool
	// AllowInsecure permits insecure-skip-tls-verify.
	AllowInsecure bool
	// AllowFileReferences permits the fields that name files on the
	// controller's host: a user's tokenFile, client-certificate and
	// client-key, a cluster's certificate-authority. Only for kubeconfigs
	// from a trusted origin: one from an object could otherwise have the
	// controller send its own service account token or client key to any
	// server.
	AllowFileReferences bool
	// QPS and Burst set client-side rate limits; 0 keeps client-go's defaults.
	QPS   float32
	Burst int
}

// RESTConfigFromKubeConfig builds a rest.Config for a remote cluster from
// kubeconfig bytes, as Flux's spec.kubeConfig does. Unless opts allow
// them, it refuses exec plugins and auth providers (ErrExecNotAllowed),
// insecure TLS (ErrInsecureNotAllowed) and any user or cluster of the
// kubeconfig that names a file (ErrFileReferenceNotAllowed), before
// anything is read or sent.
func RESTConfigFromKubeConfig(data []byte, opts KubeConfigOptions) (*rest.Config, error) {
	if err := yamlguard.Check(data); err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	raw, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: cannot parse: %w", err)
	}
	if !opts.AllowFileReferences {
		if err := refuseFileReferences(raw); err != nil {
			return nil, err
		}
	}
	ctxName := opts.Context
	if ctxName == "" {
		ctxName = raw.CurrentContext
	}
	kctx, ok := raw.Contexts[ctxName]
	if !ok || kctx == nil {
		return nil, fmt.Errorf("kubeconfig: context %q not found", ctxName)
	}
	if user, ok := raw.AuthInfos[kctx.AuthInfo]; ok && user != nil && !opts.AllowExec {
		if user.Exec != nil || user.AuthProvider != nil {
			return nil, fmt.Errorf("%w (user %q)", ErrExecNotAllowed, kctx.AuthInfo)
		}
	}
	cluster, ok := raw.Clusters[kctx.Cluster]
	if !ok || cluster == nil {
		return nil, fmt.Errorf("kubeconfig: cluster %q of context %q not found", kctx.Cluster, ctxName)
	}
	if cluster.InsecureSkipTLSVerify && !opts.AllowInsecure {
		return nil, fmt.Errorf("%w (cluster %q)", ErrInsecureNotAllowed, kctx.Cluster)
	}
	cc := clientcmd.NewNonInteractiveClientConfig(*raw, ctxName, &clientcmd.ConfigOverrides{}, nil)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	if err := checkRESTConfig(cfg, opts); err != nil {
		return nil, err
	}
	if err := moveHostUserinfo(cfg); err != nil {
		return nil, err
	}
	if opts.QPS > 0 {
		cfg.QPS = opts.QPS
	}
	if opts.Burst > 0 {
		cfg.Burst = opts.Burst
	}
	return cfg, nil
}

// refuseFileReferences returns an error naming every user and cluster of
// raw, and the field, that refers to a file.
func refuseFileReferences(raw *clientcmdapi.Config) error {
	var errs []error
	for _, name := range sortedKeys(raw.AuthInfos) {
		u := raw.AuthInfos[name]
		if u == nil {
			continue
		}
		for _, f := range []struct{ field, value string }{
			{"tokenFile", u.TokenFile}, {"client-certificate", u.ClientCertificate}, {"client-key", u.ClientKey},
		} {
			if f.value != "" {
				errs = append(errs, fmt.Errorf("%w (user %q, field %s): embed the data instead (token, client-certificate-data, client-key-data)", ErrFileReferenceNotAllowed, name, f.field))
			}
		}
	}
	for _, name := range sortedKeys(raw.Clusters) {
		if c := raw.Clusters[name]; c != nil && c.CertificateAuthority != "" {
			errs = append(errs, fmt.Errorf("%w (cluster %q, field certificate-authority): embed the data instead (certificate-authority-data)", ErrFileReferenceNotAllowed, name))
		}
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkRESTConfig verifies that the built configuration holds nothing the
// options refuse, whatever path through client-go set it.
func checkRESTConfig(cfg *rest.Config, opts KubeConfigOptions) error {
	if !opts.AllowExec && (cfg.ExecProvider != nil || cfg.AuthProvider != nil) {
		return ErrExecNotAllowed
	}
	if !opts.AllowInsecure && cfg.Insecure {
		return ErrInsecureNotAllowed
	}
	if !opts.AllowFileReferences {
		for _, f := range []struct{ field, value string }{
			{"tokenFile", cfg.BearerTokenFile}, {"client-certificate", cfg.CertFile},
			{"client-key", cfg.KeyFile}, {"certificate-authority", cfg.CAFile},
		} {
			if f.value != "" {
				return fmt.Errorf("%w (field %s)", ErrFileReferenceNotAllowed, f.field)
			}
		}
	}
	return nil
}

// KubeConfigFromSecret returns the kubeconfig held in a Secret, as Flux's
// kubeConfig.secretRef reads it: from key when given, otherwise from
// "value" or else "value.yaml".
func KubeConfigFromSecret(s *corev1.Secret, key string) ([]byte, error) {
	if s == nil {
		return nil, errors.New("kubeconfig secret is nil")
	}
	keys := []string{"value", "value.yaml"}
	if key != "" {
		keys = []string{key}
	}
	for _, k := range keys {
		if v, ok := s.Data[k]; ok && len(v) > 0 {
			return v, nil
		}
	}
	return nil, fmt.Errorf("secret %s/%s has no kubeconfig under key(s) %v", s.Namespace, s.Name, keys)
}

// NewClient returns a controller-runtime client for cfg that reads
// directly from the API server, suitable for NewManager. A nil options
// scheme means client-go's.
func NewClient(cfg *rest.Config, opts client.Options) (client.Client, error) {
	c, err := client.New(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	return c, nil
}

// moveHostUserinfo takes user information out of cfg.Host (a server URL
// such as https://user:password@host) into cfg.Username and cfg.Password,
// unless the kubeconfig's user already sets them, so that the URL the
// clients print in their errors never carries a credential.
func moveHostUserinfo(cfg *rest.Config) error {
	if !strings.Contains(cfg.Host, "@") {
		return nil
	}
	u, err := url.Parse(cfg.Host)
	if err != nil {
		return errors.New("kubeconfig: the cluster's server is not a valid URL")
	}
	if u.User == nil {
		return nil
	}
	if cfg.Username == "" && cfg.Password == "" && cfg.BearerToken == "" {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	u.User = nil
	cfg.Host = u.String()
	return nil
}
