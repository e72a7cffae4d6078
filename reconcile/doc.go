// Package reconcile makes a Kubernetes cluster match a set of objects and
// reports what it did as typed values.
//
// It is the cluster-facing half of GitOps: objects produced by kustomize,
// Helm or anything else arrive as []*unstructured.Unstructured and a Manager
// applies them with server-side apply (staged: CRDs, Namespaces and
// ClusterRoles first, then kinds ending in Class, then the rest), records
// them in a Flux-compatible Inventory, prunes what disappeared from one
// revision to the next and waits for the result to become healthy (kstatus
// plus CEL health expressions; each waited-for object is read on its own,
// so waits cost the same however crowded its namespace is). Every step returns a ChangeSet whose entries
// say what happened to each object: created, configured, unchanged, deleted
// or skipped.
//
// The usual call sequence of a controller is
//
//	m, err := reconcile.NewManager(c, reconcile.Options{Owner: reconcile.Owner{Name: "app", Namespace: "flux-system"}})
//	res, err := m.Sync(ctx, objects, oldInventory, reconcile.SyncOptions{Prune: true})
//	// store res.Inventory in the object's status, even when err != nil
//	err = m.Wait(ctx, res.Inventory, reconcile.WaitOptions{Timeout: time.Minute})
//
// with Apply, Prune and Wait also usable one by one. Objects carry Flux's
// annotations: kustomize.toolkit.fluxcd.io/ssa (Override, Merge,
// IfNotPresent, Ignore), kustomize.toolkit.fluxcd.io/force (enabled) and
// kustomize.toolkit.fluxcd.io/prune (disabled), and owner labels
// <group>/name and <group>/namespace, the group being
// kustomize.toolkit.fluxcd.io unless configured otherwise.
//
// For multi-tenant controllers, Options.Tenancy confines a Manager to one
// namespace: a set holding an object in another namespace or of a
// cluster-scoped kind (scope as the API server maps it) is refused whole,
// before anything is applied, with a *TenancyError listing each object and
// why. ImpersonateFor applies an object's service account or a controller
// default, and CheckSameNamespace refuses cross-namespace references
// (AccessDeniedReason), as Flux's lockdown flags do.
//
// Around it sit helpers any controller can use: Flux's condition types and
// reasons (Ready, Reconciling, Stalled, Healthy) over []metav1.Condition, a
// RequeuePolicy with retry interval, jitter and exponential backoff, a
// dependency Graph with cycle detection and a topological order plus
// pluggable readiness checks (a CEL readyExpr among them, and Flux's rule
// that a dependency reading the same source must have applied its current
// revision: RevisionRule), dependencies across kinds (the
// DependsOnAnnotation convention, parsed by ParseDependsOn and checked per
// kind by KindReadiness, since Flux's dependsOn names no kind), and rest.Config
// helpers for service-account impersonation and remote clusters reached
// through a kubeconfig (which refuse, unless allowed, exec plugins, auth
// providers, insecure TLS and any field naming a file on the controller's
// host).
//
// For the controller around the Manager, Lifecycle is the skeleton every
// kind shares: get the object, add a finalizer, clean up on deletion,
// honour suspension and patch the status the kind's work wrote; the kind
// brings only its Run and Finalize hooks (the example GitRepository and
// Kustomization controllers are two such kinds, and a HelmRelease or a
// Bucket controller would be a third). IsStalling tells a spec problem
// that retrying cannot fix (an invalid source configuration or CEL
// expression, a refused cross-namespace reference) from a failure worth a
// retry; Events records Kubernetes Events with Flux's revision annotation;
// ObjectVars reads post-build substitution variables from a ConfigMap or a
// Secret.
package reconcile
