package reconcile

import (
	"context"
	"sync"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/engine"
	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/event"
	kstatusreaders "github.com/fluxcd/cli-utils/pkg/kstatus/polling/statusreaders"
	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/cli-utils/pkg/object"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// appliedFreshFor is how long after its apply an object of a status-less
// kind counts as Current for Wait without being read again.
const appliedFreshFor = time.Minute

// statusless reports whether kstatus finds every existing object like o
// Current: kinds with no status and no generation to observe, and Services
// other than LoadBalancers (whose status waits for an ingress address).
func statusless(o *unstructured.Unstructured) bool {
	gvk := o.GroupVersionKind()
	switch gvk.Group {
	case "":
		switch gvk.Kind {
		case "ConfigMap", "Secret", "ServiceAccount", "LimitRange", "Endpoints":
			return true
		case "Service":
			t, _, _ := unstructured.NestedString(o.Object, "spec", "type")
			return t != "LoadBalancer"
		}
	case "rbac.authorization.k8s.io":
		switch gvk.Kind {
		case "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding":
			return true
		}
	}
	return false
}

// appliedSet remembers the status-less objects a Manager applied, and
// when, so that Wait need not read them back right after.
type appliedSet struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (s *appliedSet) add(id string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]time.Time{}
	}
	s.m[id] = at
}

func (s *appliedSet) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

func (s *appliedSet) fresh(id string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.m[id]
	return ok && now.Sub(at) < appliedFreshFor
}

// noteApplied records the outcome of applying o: a status-less object that
// now exists (and has no health expression of its own) is fresh.
func (m *Manager) noteApplied(o *unstructured.Unstructured, e ChangeSetEntry) {
	id := e.Ref.ID()
	switch e.Action {
	case Created, Configured, Unchanged:
		if statusless(o) && !m.healthExprKinds[o.GroupVersionKind().GroupKind()] {
			m.applied.add(id, time.Now())
			return
		}
	}
	m.applied.forget(id)
}

// getLive reads the live state of o for the fast path: the object, or nil
// when it does not exist; ok is false when it could not be read (the full
// path then reports precise errors).
func (m *Manager) getLive(ctx context.Context, o *unstructured.Unstructured) (*unstructured.Unstructured, bool) {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(o.GroupVersionKind())
	if err := m.c.Get(ctx, client.ObjectKeyFromObject(o), live); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, true
		}
		return nil, false
	}
	return live, true
}

var deploymentKind = schema.GroupKind{Group: "apps", Kind: "Deployment"}

// deploymentStatusReader computes a Deployment's status from the
// Deployment alone. kstatus's own reader also lists the Deployment's
// ReplicaSets and their Pods on every poll, but only to report them as
// generated resources: the status it returns is computed from the
// Deployment, exactly as here, so two list requests per Deployment and
// poll are saved.
type deploymentStatusReader struct{ generic engine.StatusReader }

func newDeploymentStatusReader(mapper apimeta.RESTMapper) engine.StatusReader {
	return &deploymentStatusReader{generic: kstatusreaders.NewGenericStatusReader(mapper, status.Compute)}
}

func (r *deploymentStatusReader) Supports(gk schema.GroupKind) bool { return gk == deploymentKind }

func (r *deploymentStatusReader) ReadStatus(ctx context.Context, reader engine.ClusterReader, id object.ObjMetadata) (*event.ResourceStatus, error) {
	return r.generic.ReadStatus(ctx, reader, id)
}

func (r *deploymentStatusReader) ReadStatusForObject(ctx context.Context, reader engine.ClusterReader, u *unstructured.Unstructured) (*event.ResourceStatus, error) {
	return r.generic.ReadStatusForObject(ctx, reader, u)
}
