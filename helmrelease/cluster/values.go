package cluster

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/helmrelease"
)

// ValuesGetter returns a helmrelease.ValuesGetter reading the ConfigMaps
// and Secrets of namespace with c (the HelmRelease's namespace, with the
// controller's or the impersonated identity): ConfigMap data (not
// binaryData, as Flux), Secret data; an absent object wraps
// helmrelease.ErrNotFound.
func ValuesGetter(c client.Reader, namespace string) helmrelease.ValuesGetter {
	return valuesGetter{c: c, namespace: namespace}
}

type valuesGetter struct {
	c         client.Reader
	namespace string
}

func (g valuesGetter) GetValuesData(ctx context.Context, kind, name string) (map[string][]byte, error) {
	key := client.ObjectKey{Namespace: g.namespace, Name: name}
	switch kind {
	case helmrelease.KindConfigMap:
		var cm corev1.ConfigMap
		if err := g.c.Get(ctx, key, &cm); err != nil {
			return nil, getErr(kind, key, err)
		}
		out := make(map[string][]byte, len(cm.Data))
		for k, v := range cm.Data {
			out[k] = []byte(v)
		}
		return out, nil
	case helmrelease.KindSecret:
		var s corev1.Secret
		if err := g.c.Get(ctx, key, &s); err != nil {
			return nil, getErr(kind, key, err)
		}
		return s.Data, nil
	default:
		return nil, fmt.Errorf("%s %s: %w", kind, key, helmrelease.ErrUnsupportedKind)
	}
}

func getErr(kind string, key client.ObjectKey, err error) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%s %s: %w", kind, key, helmrelease.ErrNotFound)
	}
	return fmt.Errorf("%s %s: %w", kind, key, err)
}
