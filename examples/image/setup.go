package image

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/reconcile"
)

// Reporting controllers of the Events, as in Flux.
const (
	// ReflectorControllerName reports the ImageRepository and ImagePolicy
	// Events.
	ReflectorControllerName = "image-reflector-controller"
	// AutomationControllerName reports the ImageUpdateAutomation Events.
	AutomationControllerName = "image-automation-controller"
)

// RevisionAnnotation carries the revision (a tag list's, or a pushed
// commit's) on Events.
const RevisionAnnotation = "image.toolkit.fluxcd.io/revision"

// Options tunes the SetupWithManager methods. The zero value runs one
// reconcile at a time.
type Options = fluxadapter.ControllerOptions

// TagStore keeps the tags of each ImageRepository's last scan, where the
// ImagePolicy reconciler reads them (Flux keeps them in a database; the
// status only holds a summary). It is safe for concurrent use; the zero
// value is not usable, call NewTagStore.
type TagStore struct {
	mu sync.RWMutex
	m  map[types.NamespacedName]scannedTags
}

type scannedTags struct {
	revision string
	tags     []string
}

// NewTagStore returns an empty TagStore.
func NewTagStore() *TagStore {
	return &TagStore{m: map[types.NamespacedName]scannedTags{}}
}

// Set records the tags of a scan with its revision; tags is not copied
// and must not be modified afterwards.
func (s *TagStore) Set(key types.NamespacedName, revision string, tags []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = scannedTags{revision: revision, tags: tags}
}

// Tags returns the tags of the last scan of key and its revision; ok is
// false when none is recorded. The slice must not be modified.
func (s *TagStore) Tags(key types.NamespacedName) (revision string, tags []string, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.m[key]
	return t.revision, t.tags, ok
}

// Delete forgets the tags of key.
func (s *TagStore) Delete(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}

// SetupOptions configures Setup. The zero value runs one reconcile of
// each kind at a time, clones into os.TempDir(), allows cross-namespace
// references as the ACLs permit and records Events with the manager's
// recorders.
type SetupOptions struct {
	// Controller tunes each controller's registration.
	Controller Options
	// TempDir holds the automation's clones; "" means os.TempDir().
	TempDir string
	// NoCrossNamespaceRefs is the lockdown flag both the ImagePolicy and
	// the ImageUpdateAutomation reconcilers honour.
	NoCrossNamespaceRefs bool
	// ReflectorRecorder and AutomationRecorder record the Events of the
	// ImageRepository and ImagePolicy, and of the ImageUpdateAutomation
	// reconcilers; nil means the manager's recorder.
	ReflectorRecorder, AutomationRecorder reconcile.EventRecorder
}

// Setup registers the three reconcilers with mgr, sharing one TagStore.
func Setup(ctx context.Context, mgr ctrl.Manager, opts SetupOptions) error {
	tags := NewTagStore()
	if err := (&RepositoryReconciler{Tags: tags, Recorder: opts.ReflectorRecorder}).SetupWithManager(mgr, opts.Controller); err != nil {
		return err
	}
	if err := (&PolicyReconciler{Tags: tags, Recorder: opts.ReflectorRecorder, NoCrossNamespaceRefs: opts.NoCrossNamespaceRefs}).SetupWithManager(ctx, mgr, opts.Controller); err != nil {
		return err
	}
	return (&AutomationReconciler{TempDir: opts.TempDir, Recorder: opts.AutomationRecorder, NoCrossNamespaceRefs: opts.NoCrossNamespaceRefs}).SetupWithManager(ctx, mgr, opts.Controller)
}
