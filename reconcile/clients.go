package reconcile

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// KubeConfigRef names the Secret key holding the kubeconfig of a remote
// cluster (Flux's spec.kubeConfig.secretRef); the Secret is in the
// object's namespace and an empty Key means "value", else "value.yaml".
type KubeConfigRef struct {
	// SecretName names the Secret.
	SecretName string
	// Key is the Secret's key; see KubeConfigFromSecret.
	Key string
}

// Clients hands out the clients a controller applies an object's
// manifests with, as Flux's controllers choose them: one for a remote
// cluster when the object names a kubeconfig Secret; otherwise one
// impersonating the object's service account, or DefaultServiceAccount
// (Flux's --default-service-account); otherwise the controller's own. All
// read directly from the API server (see NewClient); the controller's own
// is built once and shared. Set the fields before the first For; Clients
// must not be copied after that.
type Clients struct {
	// Config reaches the controller's cluster. Required.
	Config *rest.Config
	// Reader reads kubeconfig Secrets; required when objects name one.
	Reader client.Reader
	// Scheme of the clients; nil means client-go's.
	Scheme *runtime.Scheme
	// DefaultServiceAccount is impersonated for an object that names no
	// service account and no kubeconfig; "" applies as the controller.
	DefaultServiceAccount string
	// KubeConfig reads the kubeconfigs of remote clusters; its zero value
	// refuses exec plugins, insecure TLS and file references.
	KubeConfig KubeConfigOptions

	once   sync.Once
	own    client.Client
	ownErr error
}

// For returns the client for an object in namespace that names
// serviceAccount ("" for none) and kubeConfig (nil for none). A remote
// cluster is reached without DefaultServiceAccount: its RBAC does not know
// the local accounts.
func (c *Clients) For(ctx context.Context, namespace, serviceAccount string, kubeConfig *KubeConfigRef) (client.Client, error) {
	cfg, defaultSA := c.Config, c.DefaultServiceAccount
	if kubeConfig != nil {
		var s corev1.Secret
		if err := c.Reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: kubeConfig.SecretName}, &s); err != nil {
			return nil, fmt.Errorf("reading kubeconfig Secret %q: %w", kubeConfig.SecretName, err)
		}
		data, err := KubeConfigFromSecret(&s, kubeConfig.Key)
		if err != nil {
			return nil, err
		}
		if cfg, err = RESTConfigFromKubeConfig(data, c.KubeConfig); err != nil {
			return nil, err
		}
		defaultSA = ""
	}
	cfg, err := ImpersonateFor(cfg, namespace, serviceAccount, defaultSA)
	if err != nil {
		return nil, err
	}
	if cfg != c.Config {
		return NewClient(cfg, client.Options{Scheme: c.Scheme})
	}
	c.once.Do(func() { c.own, c.ownErr = NewClient(c.Config, client.Options{Scheme: c.Scheme}) })
	return c.own, c.ownErr
}

// Memories keeps one Memory per object for a controller that builds a
// Manager per reconciliation (Options.Memory): an object recreated under
// the same name (a new UID) starts afresh, and Forget drops a deleted
// object's. The zero value is ready to use and safe for concurrent use.
type Memories struct {
	mu sync.Mutex
	m  map[types.NamespacedName]uidMemory
}

type uidMemory struct {
	uid types.UID
	mem *Memory
}

// For returns what earlier applies for obj (this UID) learnt.
func (m *Memories) For(obj client.Object) *Memory {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := client.ObjectKeyFromObject(obj)
	if e, ok := m.m[key]; ok && e.uid == obj.GetUID() {
		return e.mem
	}
	if m.m == nil {
		m.m = map[types.NamespacedName]uidMemory{}
	}
	e := uidMemory{uid: obj.GetUID(), mem: &Memory{}}
	m.m[key] = e
	return e.mem
}

// Forget drops the memory of the object key names.
func (m *Memories) Forget(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, key)
}
