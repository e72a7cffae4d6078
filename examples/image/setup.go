package image

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
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

// Setup registers the three reconcilers with mgr, sharing one TagStore;
// tempDir holds the automation's clones ("" means os.TempDir()) and
// noCrossNamespaceRefs is the lockdown flag both the ImagePolicy and the
// ImageUpdateAutomation reconcilers honour.
func Setup(ctx context.Context, mgr ctrl.Manager, tempDir string, noCrossNamespaceRefs bool, opts Options) error {
	tags := NewTagStore()
	if err := (&RepositoryReconciler{Tags: tags}).SetupWithManager(mgr, opts); err != nil {
		return err
	}
	if err := (&PolicyReconciler{Tags: tags, NoCrossNamespaceRefs: noCrossNamespaceRefs}).SetupWithManager(ctx, mgr, opts); err != nil {
		return err
	}
	return (&AutomationReconciler{TempDir: tempDir, NoCrossNamespaceRefs: noCrossNamespaceRefs}).SetupWithManager(ctx, mgr, opts)
}
