package kustomize

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ErrOutsideTargetNamespace reports objects that a build restricted to its
// target namespace would place elsewhere.
var ErrOutsideTargetNamespace = errors.New("objects outside the target namespace")

// maxListed bounds how many offending objects an error names.
const maxListed = 10

// checkTenancy enforces Options.RestrictToTargetNamespace.
func checkTenancy(objs []*unstructured.Unstructured, opts Options) error {
	if !opts.RestrictToTargetNamespace {
		return nil
	}
	var bad []string
	n := 0
	for _, o := range objs {
		ns := o.GetNamespace()
		switch {
		case ns == opts.TargetNamespace:
			continue
		case ns == "" && opts.AllowClusterScoped:
			continue
		}
		n++
		if len(bad) < maxListed {
			if ns == "" {
				bad = append(bad, objectRef(o.GetKind(), "", o.GetName())+" (cluster-scoped)")
			} else {
				bad = append(bad, objectRef(o.GetKind(), ns, o.GetName()))
			}
		}
	}
	if n == 0 {
		return nil
	}
	more := ""
	if n > len(bad) {
		more = fmt.Sprintf(" and %d more", n-len(bad))
	}
	return fmt.Errorf("kustomize: %w %q: %s%s", ErrOutsideTargetNamespace, opts.TargetNamespace, strings.Join(bad, ", "), more)
}
