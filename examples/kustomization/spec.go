package kustomization

import (
	"errors"
	"fmt"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/kustomize"
	"github.com/gitopskit/gitopskit/reconcile"
)

// OriginRevisionAnnotation is the key, in a source artifact's metadata, of
// the revision the artifact was built from (an OCI artifact's
// org.opencontainers.image.revision annotation, which `flux push artifact`
// sets from --revision). A Kustomization records it as
// status.lastAppliedOriginRevision once the artifact is applied, as Flux's
// kustomize-controller does; an artifact without it clears the field.
const OriginRevisionAnnotation = "org.opencontainers.image.revision"

// BuildOptions maps the build-side fields of a Kustomization spec to
// kustomize.Options: targetNamespace, namePrefix, nameSuffix,
// commonMetadata, patches, images, components and ignoreMissingComponents.
// Substitution and decryption need Secrets and ConfigMaps and are added by
// the reconciler.
func BuildOptions(spec kustomizev1.KustomizationSpec) kustomize.Options {
	opts := kustomize.Options{
		TargetNamespace:         spec.TargetNamespace,
		NamePrefix:              spec.NamePrefix,
		NameSuffix:              spec.NameSuffix,
		Components:              append([]string(nil), spec.Components...),
		IgnoreMissingComponents: spec.IgnoreMissingComponents,
	}
	if cm := spec.CommonMetadata; cm != nil {
		opts.CommonLabels = cm.Labels
		opts.CommonAnnotations = cm.Annotations
	}
	for _, p := range spec.Patches {
		kp := kustomize.Patch{Patch: p.Patch}
		if t := p.Target; t != nil {
			kp.Target = &kustomize.Selector{
				Group: t.Group, Version: t.Version, Kind: t.Kind, Name: t.Name, Namespace: t.Namespace,
				LabelSelector: t.LabelSelector, AnnotationSelector: t.AnnotationSelector,
			}
		}
		opts.Patches = append(opts.Patches, kp)
	}
	for _, img := range spec.Images {
		opts.Images = append(opts.Images, kustomize.Image{Name: img.Name, NewName: img.NewName, NewTag: img.NewTag, Digest: img.Digest})
	}
	return opts
}

// ManagerOptions maps the apply-side fields of a Kustomization (force,
// healthCheckExprs, ignore rules) and its identity (the owner labels) to
// reconcile.Options.
func ManagerOptions(obj *kustomizev1.Kustomization) reconcile.Options {
	opts := reconcile.Options{
		FieldManager: ControllerName,
		Owner:        reconcile.Owner{Name: obj.Name, Namespace: obj.Namespace},
		Force:        obj.Spec.Force,
	}
	for _, h := range obj.Spec.HealthCheckExprs {
		opts.HealthChecks = append(opts.HealthChecks, reconcile.HealthCheckExpr{
			APIVersion: h.APIVersion, Kind: h.Kind,
			Current: h.Current, InProgress: h.InProgress, Failed: h.Failed,
		})
	}
	for _, ig := range obj.Spec.Ignore {
		rule := reconcile.IgnoreRule{Paths: append([]string(nil), ig.Paths...)}
		if t := ig.Target; t != nil {
			rule.Target = &reconcile.Selector{
				Group: t.Group, Version: t.Version, Kind: t.Kind, Name: t.Name, Namespace: t.Namespace,
				LabelSelector: t.LabelSelector, AnnotationSelector: t.AnnotationSelector,
			}
		}
		opts.IgnoreRules = append(opts.IgnoreRules, rule)
	}
	return opts
}

// CheckNamespaceRefs returns an error wrapping reconcile.ErrAccessDenied
// that names each spec.sourceRef, spec.dependsOn entry or
// reconcile.DependsOnAnnotation entry of obj in another namespace: what
// Reconciler.NoCrossNamespaceRefs (Flux's --no-cross-namespace-refs)
// refuses. Flux checks only the source; a dependency is refused too, since
// reading it would tell its readiness across the namespace boundary. A
// malformed annotation is not checked here (the reconciler stalls on it
// first).
func CheckNamespaceRefs(obj *kustomizev1.Kustomization) error {
	ref := obj.Spec.SourceRef
	errs := []error{reconcile.CheckSameNamespace("spec.sourceRef", ref.Kind+"/"+ref.Name, obj.Namespace, ref.Namespace)}
	for i, d := range obj.Spec.DependsOn {
		errs = append(errs, reconcile.CheckSameNamespace(fmt.Sprintf("spec.dependsOn[%d]", i), "Kustomization/"+d.Name, obj.Namespace, d.Namespace))
	}
	extra, _ := reconcile.ParseDependsOn(obj.GetAnnotations()[reconcile.DependsOnAnnotation])
	for _, d := range extra {
		errs = append(errs, reconcile.CheckSameNamespace("metadata.annotations["+reconcile.DependsOnAnnotation+"]", d.Kind+"/"+d.Ref.Name, obj.Namespace, d.Ref.Namespace))
	}
	return errors.Join(errs...)
}

// HealthCheckInventory turns spec.healthChecks into the inventory Wait
// polls; an empty namespace means the Kustomization's.
func HealthCheckInventory(refs []meta.NamespacedObjectKindReference, namespace string) (reconcile.Inventory, error) {
	var out []reconcile.ObjectRef
	for _, h := range refs {
		gv, err := schema.ParseGroupVersion(h.APIVersion)
		if err != nil {
			return reconcile.Inventory{}, err
		}
		ns := h.Namespace
		if ns == "" {
			ns = namespace
		}
		out = append(out, reconcile.ObjectRef{Group: gv.Group, Version: gv.Version, Kind: h.Kind, Namespace: ns, Name: h.Name})
	}
	return reconcile.NewInventory(out...), nil
}

// DependencyUnit maps a Kustomization and its spec.dependsOn to the unit
// reconcile.CheckDependencies checks; an empty dependency namespace means
// the Kustomization's.
func DependencyUnit(obj *kustomizev1.Kustomization) reconcile.Unit {
	unit := reconcile.Unit{Ref: reconcile.UnitRef{Namespace: obj.Namespace, Name: obj.Name}}
	for _, d := range obj.Spec.DependsOn {
		unit.DependsOn = append(unit.DependsOn, reconcile.Dependency{
			Ref: reconcile.UnitRef{Namespace: d.Namespace, Name: d.Name}, ReadyExpr: d.ReadyExpr,
		})
	}
	return unit
}
