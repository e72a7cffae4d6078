package reconcile

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ErrExecNotAllowed is returned for a kubeconfig whose user runs an exec
// credential plugin or an auth-provider when they are not allowed.
var ErrExecNotAllowed = errors.New("kubeconfig: exec credential plugins and auth providers are not allowed")

// ErrInsecureNotAllowed is returned for a kubeconfig that disables TLS
// verification when that is not allowed.
var ErrInsecureNotAllowed = errors.New("kubeconfig: insecure-skip-tls-verify is not allowed")

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

// KubeConfigOptions configures RESTConfigFromKubeConfig. The zero value
// refuses exec credential plugins, auth providers and insecure TLS.
type KubeConfigOptions struct {
	// Context selects a context; "" means the kubeconfig's current context.
	Context string
	// AllowExec permits exec credential plugins and auth providers (they
	// run programs on the controller's host).
	AllowExec bool
	// AllowInsecure permits insecure-skip-tls-verify.
	AllowInsecure bool
	// QPS and Burst set client-side rate limits; 0 keeps client-go's defaults.
	QPS   float32
	Burst int
}

// RESTConfigFromKubeConfig builds a rest.Config for a remote cluster from
// kubeconfig bytes, as Flux's spec.kubeConfig does.
func RESTConfigFromKubeConfig(data []byte, opts KubeConfigOptions) (*rest.Config, error) {
	raw, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: cannot parse: %w", err)
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
	if opts.QPS > 0 {
		cfg.QPS = opts.QPS
	}
	if opts.Burst > 0 {
		cfg.Burst = opts.Burst
	}
	return cfg, nil
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
