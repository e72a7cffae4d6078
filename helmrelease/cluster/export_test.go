package cluster

import (
	"helm.sh/helm/v4/pkg/storage/driver"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// NewSecretsDriver is the release storage of New, for the tests.
func NewSecretsDriver(impl corev1client.SecretInterface, b *StorageBuffers) driver.Driver {
	return newSecrets(impl, b, nil)
}
