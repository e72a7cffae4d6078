package reconcile

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Kinds ObjectVars reads, as Flux's spec.postBuild.substituteFrom names them.
const (
	ConfigMapKind = "ConfigMap"
	SecretKind    = "Secret"
)

// ObjectVars reads post-build substitution variables from a ConfigMap or a
// Secret, as Flux's spec.postBuild.substituteFrom does: every key of a
// ConfigMap's data and binaryData, every key of a Secret's data, each
// value as a string. It satisfies kustomize.VarsProvider (set NotFound to
// kustomize.ErrVarsNotFound there, so that an optional source that does
// not exist is skipped).
type ObjectVars struct {
	// Reader reads the object, usually a manager's cached client.
	Reader client.Reader
	// Kind is ConfigMapKind or SecretKind.
	Kind string
	// Namespace and Name name the object.
	Namespace, Name string
	// NotFound is the error wrapped when the object does not exist, so
	// that the consumer can tell a missing source from a failure to read
	// it; nil wraps the API server's not-found error.
	NotFound error
}

// LoadVars reads the variables.
func (v ObjectVars) LoadVars(ctx context.Context) (map[string]string, error) {
	key := types.NamespacedName{Namespace: v.Namespace, Name: v.Name}
	var obj client.Object
	switch v.Kind {
	case ConfigMapKind:
		obj = &corev1.ConfigMap{}
	case SecretKind:
		obj = &corev1.Secret{}
	default:
		return nil, fmt.Errorf("substituteFrom kind %q is not %s or %s", v.Kind, ConfigMapKind, SecretKind)
	}
	if err := v.Reader.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) && v.NotFound != nil {
			err = v.NotFound
		}
		return nil, fmt.Errorf("reading %s %q: %w", v.Kind, v.Name, err)
	}
	out := map[string]string{}
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		for k, val := range o.Data {
			out[k] = val
		}
		for k, val := range o.BinaryData {
			out[k] = string(val)
		}
	case *corev1.Secret:
		for k, val := range o.Data {
			out[k] = string(val)
		}
	}
	return out, nil
}
