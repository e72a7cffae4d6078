package reconcile

import (
	"errors"
	"fmt"
	"strings"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ErrOutsideTenancy is wrapped by every *TenancyError, for errors.Is.
var ErrOutsideTenancy = errors.New("objects outside the tenant's namespace")

// ErrAccessDenied is wrapped by the errors of CheckSameNamespace: a
// reference the controller's lockdown forbids. Retrying does not help.
var ErrAccessDenied = errors.New("access denied")

// AccessDeniedReason is the condition reason for a refused reference, as
// Flux's (github.com/fluxcd/pkg/apis/acl).
const AccessDeniedReason = "AccessDenied"

// Tenancy confines what a Manager applies to one namespace, so that a
// tenant's manifests cannot reach other namespaces or the cluster scope,
// whatever the build (patches, replacements, hand-written namespaces) put
// in them. Objects are checked before anything is applied: one refused
// object stops the whole apply. The zero value confines nothing.
type Tenancy struct {
	// Namespace is the only namespace objects may be in; "" turns the
	// confinement off.
	Namespace string
	// AllowClusterScoped lists the cluster-scoped kinds that may be
	// applied; nil refuses every cluster-scoped object. Scope is decided
	// by the API server's REST mapping (so custom resources are judged by
	// their CRD), or by a CustomResourceDefinition among the objects for a
	// kind the server does not know yet.
	AllowClusterScoped []schema.GroupKind
}

// Enabled reports whether t confines anything.
func (t Tenancy) Enabled() bool { return t.Namespace != "" }

// KindMapper finds the REST mapping, and so the scope, of a kind. A
// client's RESTMapper() is one.
type KindMapper interface {
	RESTMapping(gk schema.GroupKind, versions ...string) (*apimeta.RESTMapping, error)
}

// RefusedObject is one object a Tenancy refused and why.
type RefusedObject struct {
	// Ref identifies the object.
	Ref ObjectRef
	// Reason says why it was refused.
	Reason string
}

// TenancyError lists every object a Tenancy refused. It wraps
// ErrOutsideTenancy.
type TenancyError struct {
	// Namespace is the tenant's namespace.
	Namespace string
	// Refused holds the refused objects in their input order.
	Refused []RefusedObject
}

// maxListedRefusals bounds how many refused objects Error lists.
const maxListedRefusals = 20

// Error lists the refused objects (at most 20) with their reasons.
func (e *TenancyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tenancy: %d object(s) outside namespace %q refused, nothing applied: ", len(e.Refused), e.Namespace)
	for i, r := range e.Refused {
		if i == maxListedRefusals {
			fmt.Fprintf(&b, "; and %d more", len(e.Refused)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(r.Ref.String() + ": " + r.Reason)
	}
	return b.String()
}

// Unwrap returns ErrOutsideTenancy.
func (e *TenancyError) Unwrap() error { return ErrOutsideTenancy }

// Check returns a *TenancyError listing every object of objs that is in
// another namespace than t.Namespace, has no namespace though its kind is
// namespaced, is of a cluster-scoped kind not in t.AllowClusterScoped, or
// is of a kind whose scope neither the mapper nor a CRD among objs tells.
// Other mapper failures (discovery errors) are returned as they are. A
// zero Tenancy accepts everything without using the mapper.
func (t Tenancy) Check(objs []*unstructured.Unstructured, mapper KindMapper) error {
	if !t.Enabled() {
		return nil
	}
	crdScopes := crdScopes(objs)
	allowed := make(map[schema.GroupKind]bool, len(t.AllowClusterScoped))
	for _, gk := range t.AllowClusterScoped {
		allowed[gk] = true
	}
	scopes := map[schema.GroupKind]bool{} // kind -> cluster-scoped
	tenancyErr := &TenancyError{Namespace: t.Namespace}
	for _, o := range objs {
		if o == nil {
			continue
		}
		gvk := o.GroupVersionKind()
		gk := gvk.GroupKind()
		cluster, known := scopes[gk]
		if !known {
			m, err := mapper.RESTMapping(gk, gvk.Version)
			if apimeta.IsNoMatchError(err) {
				m, err = mapper.RESTMapping(gk) // the scope is the kind's, whichever version is served
			}
			switch {
			case err == nil:
				cluster = m.Scope.Name() == apimeta.RESTScopeNameRoot
			case apimeta.IsNoMatchError(err):
				var inSet bool
				if cluster, inSet = crdScopes[gk]; !inSet {
					tenancyErr.Refused = append(tenancyErr.Refused, RefusedObject{Ref: RefOf(o),
						Reason: "kind " + gk.String() + " is not known to the API server, so its scope cannot be checked"})
					continue
				}
			default:
				return fmt.Errorf("tenancy: finding the scope of %s: %w", gk, err)
			}
			cluster = cluster || crdScopes[gk]
			scopes[gk] = cluster
		}
		ns := o.GetNamespace()
		var reason string
		switch {
		case cluster && !allowed[gk]:
			reason = "cluster-scoped kind " + gk.String() + " is not allowed"
		case cluster:
		case ns == "":
			reason = "no namespace set"
		case ns != t.Namespace:
			reason = fmt.Sprintf("namespace %q is not the tenant's", ns)
		}
		if reason != "" {
			tenancyErr.Refused = append(tenancyErr.Refused, RefusedObject{Ref: RefOf(o), Reason: reason})
		}
	}
	if len(tenancyErr.Refused) > 0 {
		return tenancyErr
	}
	return nil
}

// crdScopes returns, for each kind defined by a CustomResourceDefinition
// among objs, whether it is cluster-scoped.
func crdScopes(objs []*unstructured.Unstructured) map[schema.GroupKind]bool {
	out := map[schema.GroupKind]bool{}
	for _, o := range objs {
		if o == nil || o.GetKind() != "CustomResourceDefinition" || o.GroupVersionKind().Group != "apiextensions.k8s.io" {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
		if kind != "" {
			gk := schema.GroupKind{Group: group, Kind: kind}
			out[gk] = out[gk] || scope != "Namespaced"
		}
	}
	return out
}

// CheckSameNamespace returns an error wrapping ErrAccessDenied when a
// reference from an object in namespace to an object in refNamespace
// crosses namespaces ("" means the object's own). field names the
// reference (spec.sourceRef, spec.dependsOn[0]) and ref what it points at
// (GitRepository/name); both appear in the error. Controllers call it when
// cross-namespace references are locked down (Flux's
// --no-cross-namespace-refs) and report AccessDeniedReason.
func CheckSameNamespace(field, ref, namespace, refNamespace string) error {
	if refNamespace == "" || refNamespace == namespace {
		return nil
	}
	return fmt.Errorf("%w: %s: cannot reach %s in namespace %q from namespace %q: cross-namespace references are not allowed",
		ErrAccessDenied, field, ref, refNamespace, namespace)
}
