package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/clusterreader"
	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/engine"
	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/jsondiff"
	ssautils "github.com/fluxcd/pkg/ssa/utils"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/selector"
)

// Flux's per-object annotations and their values.
const (
	// AnnotationSSA selects the apply policy: SSAOverride (default),
	// SSAMerge, SSAIfNotPresent or SSAIgnore.
	AnnotationSSA = "kustomize.toolkit.fluxcd.io/ssa"
	// AnnotationForce set to Enabled recreates the object when an apply
	// hits an immutable field.
	AnnotationForce = "kustomize.toolkit.fluxcd.io/force"
	// AnnotationPrune set to Disabled keeps the object when it leaves the
	// inventory.
	AnnotationPrune = "kustomize.toolkit.fluxcd.io/prune"
	// AnnotationReconcile set to Disabled excludes the object from apply.
	AnnotationReconcile = "kustomize.toolkit.fluxcd.io/reconcile"

	SSAOverride     = "Override"
	SSAMerge        = "Merge"
	SSAIfNotPresent = "IfNotPresent"
	SSAIgnore       = "Ignore"
	Enabled         = "enabled"
	Disabled        = "disabled"

	// DefaultOwnerLabelGroup prefixes the owner labels <group>/name and
	// <group>/namespace.
	DefaultOwnerLabelGroup = "kustomize.toolkit.fluxcd.io"
	// DefaultFieldManager is the server-side apply field manager.
	DefaultFieldManager = "gitopskit"
)

// ErrNoOwner is returned by Prune and Finalize when the Manager has no
// owner: without owner labels nothing can be proven to be ours to delete.
var ErrNoOwner = errors.New("reconcile: pruning needs an owner (Options.Owner)")

// Owner names the object (a Kustomization, a HelmRelease, ...) that owns
// the applied objects; it becomes the owner labels.
type Owner struct {
	Name      string
	Namespace string
}

// Selector picks objects for an IgnoreRule; it is the project's one
// selector type, shared with kustomize's patch targets.
type Selector = selector.Selector

// IgnoreRule excludes fields, given as JSON pointers (RFC 6901), from drift
// detection on the objects the Target selects (all objects when nil).
type IgnoreRule struct {
	Paths  []string
	Target *Selector
}

// Options configures a Manager. The zero value applies with field manager
// "gitopskit", sets no owner labels (so Prune refuses to run), confines
// objects to no namespace (only the client's RBAC decides), uses 64
// concurrent requests, waits up to a minute for CRDs and Namespaces to be
// ready between stages and polls every two seconds.
type Options struct {
	// FieldManager is the server-side apply field manager; "" means
	// DefaultFieldManager.
	FieldManager string
	// Owner becomes the owner labels on every applied object and is
	// required by Prune; the zero Owner sets no labels.
	Owner Owner
	// OwnerLabelGroup prefixes the owner labels; "" means
	// DefaultOwnerLabelGroup.
	OwnerLabelGroup string
	// Force recreates every object whose apply hits an immutable field
	// (per object: the force annotation).
	Force bool
	// Tenancy, when its Namespace is set, makes Apply, Sync and Diff
	// refuse, before anything is applied, objects outside that namespace
	// and cluster-scoped objects (a *TenancyError).
	Tenancy Tenancy
	// Concurrency bounds parallel API requests; 0 means 64. The client's
	// own rate limits (rest.Config QPS and Burst) still apply.
	Concurrency int
	// IgnoreRules are excluded from drift detection.
	IgnoreRules []IgnoreRule
	// HealthChecks are CEL health expressions per kind, used by Wait in
	// place of kstatus for those kinds.
	HealthChecks []HealthCheckExpr
	// StageTimeout bounds the wait for CRDs, Namespaces, ClusterRoles and
	// Class kinds to be ready before later stages; 0 means one minute.
	StageTimeout time.Duration
	// PollInterval is how often waits poll the cluster; 0 means 2s.
	PollInterval time.Duration
	// FullDryRun diffs every object with a server-side dry-run on every
	// Apply. By default Apply reads the live objects first (one LIST when
	// four or more share a kind and namespace, else one GET each), creates
	// the absent ones with a single apply request each, and reports
	// Unchanged, without a dry-run, an object whose desired state and
	// whose field-manager record in the cluster are both the same as when
	// this Manager last applied it (any write to a field we own changes
	// that record). Sync does not even read an object that is neither in
	// the previous inventory nor remembered: it applies it at once and
	// reports it Created when the response shows the apply created it;
	// when it existed, the full path adopts it and it is reported
	// Configured. Keep one Manager per owner across reconciliations (or
	// one Memory per owner) to benefit. Server-side
	// changes that alter no object, such as new defaults in a CRD schema,
	// are then seen only when the object next changes; FullDryRun trades
	// speed for seeing them at once.
	FullDryRun bool
	// Memory, when set, is where the Manager remembers its applies, so a
	// new Manager for the same owner can reuse what an earlier one learnt.
	// Nil means the Manager keeps its own.
	Memory *Memory
	// CachingStatusReader makes Wait read statuses the way kstatus does by
	// default: on every poll it lists all objects of each waited-for kind
	// in each namespace (and what they own, for Deployments and
	// StatefulSets) and picks the waited-for ones out of the lists. That
	// saves requests when the waited-for objects are most of their
	// namespace, but N owners sharing one namespace then pay O(N) per
	// poll each. The default (false) gets each waited-for object directly,
	// as Flux's kustomize-controller does by default (its
	// DisableStatusPollerCache feature gate, on since v1.2).
	CachingStatusReader bool
}

// Manager applies, prunes and waits for objects in one cluster on behalf of
// one owner. It is safe for concurrent use.
type Manager struct {
	c       client.Client
	rm      *ssa.ResourceManager
	poller  *polling.StatusPoller
	opts    Options
	memory  *Memory
	optsKey string
	// applied holds the status-less objects applied lately (see Wait).
	applied appliedSet
	// healthExprKinds are the kinds with a health expression.
	healthExprKinds map[schema.GroupKind]bool
}

// NewManager returns a Manager using c (a controller-runtime client that
// reads directly from the API server, not from a cache). It fails when a
// health expression does not compile.
func NewManager(c client.Client, opts Options) (*Manager, error) {
	if c == nil {
		return nil, errors.New("reconcile: nil client")
	}
	if opts.FieldManager == "" {
		opts.FieldManager = DefaultFieldManager
	}
	if opts.OwnerLabelGroup == "" {
		opts.OwnerLabelGroup = DefaultOwnerLabelGroup
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 64
	}
	if opts.StageTimeout <= 0 {
		opts.StageTimeout = time.Minute
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 2 * time.Second
	}
	if opts.Owner.Name == "" && opts.Owner.Namespace != "" {
		return nil, errors.New("reconcile: Owner.Namespace is set but Owner.Name is empty")
	}
	var readers []engine.StatusReader
	exprKinds := map[schema.GroupKind]bool{}
	for _, h := range opts.HealthChecks {
		ev, err := CompileHealthCheck(h)
		if err != nil {
			return nil, err
		}
		readers = append(readers, newCELStatusReader(c.RESTMapper(), ev))
		exprKinds[ev.gk] = true
	}
	// Health expressions come first: one for Jobs replaces the Job reader,
	// one for Deployments the Deployment reader.
	readers = append(readers, newJobStatusReader(c.RESTMapper()), newDeploymentStatusReader(c.RESTMapper()))
	popts := polling.Options{CustomStatusReaders: readers}
	if !opts.CachingStatusReader {
		popts.ClusterReaderFactory = engine.ClusterReaderFactoryFunc(clusterreader.NewDirectClusterReader)
	}
	poller := polling.NewStatusPoller(c, c.RESTMapper(), popts)
	rm := ssa.NewResourceManager(c, poller, ssa.Owner{Field: opts.FieldManager, Group: opts.OwnerLabelGroup})
	rm.SetConcurrency(opts.Concurrency)
	mem := opts.Memory
	if mem == nil {
		mem = &Memory{}
	}
	key, err := json.Marshal([]any{opts.FieldManager, opts.Owner, opts.OwnerLabelGroup, opts.Force, opts.IgnoreRules})
	if err != nil {
		return nil, fmt.Errorf("reconcile: options: %w", err)
	}
	return &Manager{c: c, rm: rm, poller: poller, opts: opts, memory: mem, optsKey: string(key), healthExprKinds: exprKinds}, nil
}

// OwnerLabels returns the labels Apply sets and Prune requires, or nil
// without an owner.
func (m *Manager) OwnerLabels() map[string]string {
	if m.opts.Owner.Name == "" {
		return nil
	}
	return m.rm.GetOwnerLabels(m.opts.Owner.Name, m.opts.Owner.Namespace)
}

func (m *Manager) applyOptions() (ssa.ApplyOptions, error) {
	o := ssa.DefaultApplyOptions()
	o.Force = m.opts.Force
	o.ForceSelector = map[string]string{AnnotationForce: Enabled}
	o.ExclusionSelector = map[string]string{AnnotationReconcile: Disabled, AnnotationSSA: SSAIgnore}
	o.IfNotPresentSelector = map[string]string{AnnotationSSA: SSAIfNotPresent}
	o.WaitInterval = m.opts.PollInterval
	o.WaitTimeout = m.opts.StageTimeout
	o.Cleanup = ssa.ApplyCleanupOptions{
		Annotations: []string{corev1.LastAppliedConfigAnnotation},
		FieldManagers: []ssa.FieldManager{
			{Name: "kubectl", OperationType: metav1.ManagedFieldsOperationApply},
			{Name: "kubectl", OperationType: metav1.ManagedFieldsOperationUpdate},
			{Name: "before-first-apply", OperationType: metav1.ManagedFieldsOperationUpdate},
			{Name: m.opts.FieldManager, OperationType: metav1.ManagedFieldsOperationUpdate},
		},
		Exclusions: map[string]string{AnnotationSSA: SSAMerge},
	}
	for _, r := range m.opts.IgnoreRules {
		jr := jsondiff.IgnoreRule{Paths: r.Paths}
		if r.Target != nil {
			jr.Selector = &jsondiff.Selector{
				Group: r.Target.Group, Version: r.Target.Version, Kind: r.Target.Kind,
				Name: r.Target.Name, Namespace: r.Target.Namespace,
				LabelSelector: r.Target.LabelSelector, AnnotationSelector: r.Target.AnnotationSelector,
			}
		}
		o.DriftIgnoreRules = append(o.DriftIgnoreRules, jr)
	}
	if len(o.DriftIgnoreRules) > 0 {
		if _, err := jsondiff.CompileIgnoreRules(o.DriftIgnoreRules); err != nil {
			return o, fmt.Errorf("reconcile: invalid ignore rule: %w", err)
		}
	}
	return o, nil
}

// ApplyError is the failure of one object in Apply.
type ApplyError struct {
	Ref ObjectRef
	Err error
}

// Error returns Err's text.
func (e *ApplyError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error (an API status error, usually, so
// apierrors.IsForbidden and friends work on Apply's error).
func (e *ApplyError) Unwrap() error { return e.Err }

func validateObjects(objs []*unstructured.Unstructured) error {
	for i, o := range objs {
		if o == nil {
			return fmt.Errorf("reconcile: object %d is nil", i)
		}
		if o.GetAPIVersion() == "" || o.GetKind() == "" || o.GetName() == "" {
			return fmt.Errorf("reconcile: object %d (%s) lacks apiVersion, kind or metadata.name", i, RefOf(o))
		}
	}
	return nil
}

// validate checks objs are well-formed and within the Manager's Tenancy.
func (m *Manager) validate(objs []*unstructured.Unstructured) error {
	if err := validateObjects(objs); err != nil {
		return err
	}
	return m.opts.Tenancy.Check(objs, m.c.RESTMapper())
}

// Apply server-side applies objs in stages: CustomResourceDefinitions,
// Namespaces and ClusterRoles first, waiting until they are ready, then
// kinds ending in Class (also waited for), then everything else. Within a
// stage objects are applied concurrently; each is diffed first with a
// server-side dry-run and written only when it drifted, so re-applying an
// unchanged set makes no write request.
//
// The returned ChangeSet lists every object that was processed, even when
// an error is returned: failed objects are absent from it and the error
// joins one *ApplyError per failure. A failing stage stops later stages.
// Invalid objects, and with Options.Tenancy objects outside the tenant's
// namespace (a *TenancyError), fail the call before anything is applied.
// The caller's objects are not modified.
func (m *Manager) Apply(ctx context.Context, objs []*unstructured.Unstructured) (ChangeSet, error) {
	return m.apply(ctx, objs, nil)
}

// apply is Apply; previous, when not nil, is the owner's inventory before
// this apply (see newToOwner).
func (m *Manager) apply(ctx context.Context, objs []*unstructured.Unstructured, previous *Inventory) (ChangeSet, error) {
	var cs ChangeSet
	if err := m.validate(objs); err != nil {
		return cs, err
	}
	opts, err := m.applyOptions()
	if err != nil {
		return cs, err
	}
	owned := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		owned[i] = o.DeepCopy()
	}
	if m.opts.Owner.Name != "" {
		m.rm.SetOwnerLabels(owned, m.opts.Owner.Name, m.opts.Owner.Namespace)
	}
	var defs, classes, rest []*unstructured.Unstructured
	for _, o := range owned {
		switch {
		case ssautils.IsClusterDefinition(o):
			defs = append(defs, o)
		case ssautils.IsClassDefinition(o):
			classes = append(classes, o)
		default:
			rest = append(rest, o)
		}
	}
	log := logr.FromContextOrDiscard(ctx)
	for i, stage := range [][]*unstructured.Unstructured{defs, classes, rest} {
		if len(stage) == 0 {
			continue
		}
		entries, err := m.applyStage(ctx, stage, opts, previous)
		cs.Add(entries...)
		if err != nil {
			return cs, err
		}
		if i < 2 {
			var changed Inventory
			for _, e := range entries {
				if e.Action == Created || e.Action == Configured {
					changed = changed.Union(NewInventory(e.Ref))
				}
			}
			if changed.Len() > 0 {
				wctx, cancel := context.WithTimeout(ctx, m.opts.StageTimeout)
				err := m.Wait(wctx, changed, WaitOptions{Interval: m.opts.PollInterval / 4, Timeout: m.opts.StageTimeout})
				cancel()
				if err != nil {
					return cs, fmt.Errorf("waiting for cluster definitions: %w", err)
				}
			}
		}
		log.V(1).Info("applied stage", "stage", i, "objects", len(stage))
	}
	return cs, nil
}

func (m *Manager) applyStage(ctx context.Context, objs []*unstructured.Unstructured, opts ssa.ApplyOptions, previous *Inventory) ([]ChangeSetEntry, error) {
	var known map[string]bool
	if previous != nil {
		known = make(map[string]bool, len(previous.Entries))
		for _, e := range previous.Entries {
			known[e.ID] = true
		}
	}
	sort.Sort(ssa.SortableUnstructureds(objs))
	entries := make([]*ChangeSetEntry, len(objs))
	errs := make([]error, len(objs))
	var listed map[int]*unstructured.Unstructured
	if !m.opts.FullDryRun {
		listed = m.listExisting(ctx, objs)
	}
	sem := make(chan struct{}, m.opts.Concurrency)
	var wg sync.WaitGroup
	for i, o := range objs {
		if err := ctx.Err(); err != nil {
			errs[i] = &ApplyError{Ref: RefOf(o), Err: err}
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			live, wasListed := listed[i]
			blindApplied := false
			if !wasListed && listed != nil && !excludedFromFastPath(o) {
				if known != nil && m.newToOwner(o, known) {
					e, ok, existed := m.createBlind(ctx, o)
					if ok {
						entries[i] = &e
						m.noteApplied(o, e)
						return
					}
					blindApplied = existed
				}
				live, wasListed = m.getLive(ctx, o)
			}
			if wasListed {
				e, handled, err := m.fastApply(ctx, o, live)
				if handled {
					if err != nil {
						errs[i] = err
						m.applied.forget(RefOf(o).ID())
					} else {
						entries[i] = &e
						m.noteApplied(o, e)
					}
					return
				}
			}
			e, err := m.rm.Apply(ctx, o, opts)
			if err != nil {
				errs[i] = &ApplyError{Ref: RefOf(o), Err: err}
				m.applied.forget(RefOf(o).ID())
				return
			}
			entry := fromSSA(*e)
			if blindApplied && entry.Action == Unchanged {
				entry.Action = Configured
			}
			switch entry.Action {
			case Skipped:
				entry.Reason = skipReason(o)
				probe := entry.Ref.Unstructured()
				if err := m.c.Get(ctx, client.ObjectKeyFromObject(probe), probe); apierrors.IsNotFound(err) {
					entry.NotPresent = true
				}
			case Unchanged:
				if live != nil {
					if h, ok := m.hashDesired(o); ok {
						m.remember(entry.Ref, h, live)
					}
				}
			default:
				m.memory.cache.forget(entry.Ref.ID())
			}
			m.noteApplied(o, entry)
			entries[i] = &entry
		}()
	}
	wg.Wait()
	out := make([]ChangeSetEntry, 0, len(objs))
	for _, e := range entries {
		if e != nil {
			out = append(out, *e)
		}
	}
	return out, errors.Join(errs...)
}

func skipReason(o *unstructured.Unstructured) string {
	a := o.GetAnnotations()
	switch {
	case strings.EqualFold(a[AnnotationReconcile], Disabled) || strings.EqualFold(o.GetLabels()[AnnotationReconcile], Disabled):
		return AnnotationReconcile + ": " + Disabled
	case strings.EqualFold(a[AnnotationSSA], SSAIfNotPresent):
		return AnnotationSSA + ": " + SSAIfNotPresent + " and the object exists"
	default:
		return AnnotationSSA + ": " + SSAIgnore
	}
}

func fromSSA(e ssa.ChangeSetEntry) ChangeSetEntry {
	return ChangeSetEntry{
		Ref: ObjectRef{
			Group: e.ObjMetadata.GroupKind.Group, Version: e.GroupVersion, Kind: e.ObjMetadata.GroupKind.Kind,
			Namespace: e.ObjMetadata.Namespace, Name: e.ObjMetadata.Name,
		},
		Action: Action(e.Action),
	}
}

// DiffResult is the drift of one object: Live is the object in the
// cluster, Merged what it would become. Both are nil unless the object
// drifted; Secret values in them are masked.
type DiffResult struct {
	Entry  ChangeSetEntry
	Live   *unstructured.Unstructured
	Merged *unstructured.Unstructured
}

// Diff reports, without writing anything, what Apply would do to each
// object (a server-side dry-run per object).
func (m *Manager) Diff(ctx context.Context, objs []*unstructured.Unstructured) ([]DiffResult, error) {
	if err := m.validate(objs); err != nil {
		return nil, err
	}
	ao, err := m.applyOptions()
	if err != nil {
		return nil, err
	}
	do := ssa.DiffOptions{
		Exclusions: ao.ExclusionSelector, IfNotPresentSelector: ao.IfNotPresentSelector,
		Force: ao.Force, ForceSelector: ao.ForceSelector, DriftIgnoreRules: ao.DriftIgnoreRules,
	}
	var out []DiffResult
	var errs []error
	for _, o := range objs {
		o = o.DeepCopy()
		if m.opts.Owner.Name != "" {
			m.rm.SetOwnerLabels([]*unstructured.Unstructured{o}, m.opts.Owner.Name, m.opts.Owner.Namespace)
		}
		e, live, merged, err := m.rm.Diff(ctx, o, do)
		if err != nil {
			errs = append(errs, &ApplyError{Ref: RefOf(o), Err: err})
			continue
		}
		maskSecret(live)
		maskSecret(merged)
		out = append(out, DiffResult{Entry: fromSSA(*e), Live: live, Merged: merged})
	}
	return out, errors.Join(errs...)
}

// maskSecret replaces every value of a Secret's data and stringData that
// is not already masked.
func maskSecret(u *unstructured.Unstructured) {
	if u == nil || u.GetKind() != "Secret" || u.GroupVersionKind().Group != "" {
		return
	}
	for _, field := range []string{"data", "stringData"} {
		m, ok := u.Object[field].(map[string]any)
		if !ok {
			continue
		}
		for k, v := range m {
			if s, ok := v.(string); ok && strings.HasPrefix(s, "***") {
				continue
			}
			m[k] = "*****"
		}
	}
}

func isCanceled(err error) bool { return errors.Is(err, context.Canceled) }

func refsToSet(refs []ObjectRef) (object.ObjMetadataSet, map[object.ObjMetadata]ObjectRef) {
	set := make(object.ObjMetadataSet, 0, len(refs))
	idx := make(map[object.ObjMetadata]ObjectRef, len(refs))
	for _, r := range refs {
		om := r.objMetadata()
		set = append(set, om)
		idx[om] = r
	}
	return set, idx
}
