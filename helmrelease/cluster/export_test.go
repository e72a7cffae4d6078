package cluster

import (
	"helm.sh/helm/v4/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
)

// NewSecretsDriver is the release storage of New, for the tests.
func NewSecretsDriver(impl corev1client.SecretInterface, b *StorageBuffers) driver.Driver {
	return newSecrets(impl, b, nil)
}

// DiscoveryView is the discovery client and REST mapper a Client sharing
// d gets for cfg.
func DiscoveryView(d *Discovery, cfg *rest.Config) (discovery.CachedDiscoveryInterface, meta.ResettableRESTMapper, error) {
	c, err := d.client(cfg)
	if err != nil {
		return nil, nil, err
	}
	return c, sharedMapper{c}, nil
}

// DiscoveryHeld is the number of servers and identities whose discovery
// data d still holds.
func DiscoveryHeld(d *Discovery) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, s := range d.servers {
		if s.current() != nil {
			n++
		}
	}
	return n
}
