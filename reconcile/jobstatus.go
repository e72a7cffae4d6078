package reconcile

import (
	"context"
	"fmt"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/engine"
	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/event"
	kstatusreaders "github.com/fluxcd/cli-utils/pkg/kstatus/polling/statusreaders"
	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/cli-utils/pkg/object"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// jobKind is the kind jobStatus judges.
var jobKind = schema.GroupKind{Group: "batch", Kind: "Job"}

// jobStatus judges a Job as Flux's controllers do, rather than as kstatus
// does (which calls a Job Current once it has started): a Job is Current
// when it has completed or is suspended, Failed as soon as the Job
// controller has given up on it (its Failed or FailureTarget condition,
// with the condition's reason and message), and InProgress otherwise.
func jobStatus(u *unstructured.Unstructured) (*status.Result, error) {
	obj := u.Object
	if s, ok, _ := unstructured.NestedBool(obj, "spec", "suspend"); ok && s {
		return &status.Result{Status: status.CurrentStatus, Message: "Job is suspended"}, nil
	}
	parallelism := intField(obj, 1, "spec", "parallelism")
	completions := intField(obj, parallelism, "spec", "completions")
	active := intField(obj, 0, "status", "active")
	succeeded := intField(obj, 0, "status", "succeeded")
	failed := intField(obj, 0, "status", "failed")
	conds, _, _ := unstructured.NestedSlice(obj, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["status"] != "True" {
			continue
		}
		reason, _ := m["reason"].(string)
		msg, _ := m["message"].(string)
		switch m["type"] {
		case "Complete":
			return &status.Result{Status: status.CurrentStatus,
				Message: fmt.Sprintf("Job Completed. succeeded: %d/%d", succeeded, completions)}, nil
		case "Failed", "FailureTarget":
			text := fmt.Sprintf("Job Failed. failed: %d/%d", failed, completions)
			if reason != "" || msg != "" {
				text += fmt.Sprintf(" error: %s: %s", reason, msg)
			}
			return &status.Result{Status: status.FailedStatus, Message: text,
				Conditions: []status.Condition{{Type: status.ConditionStalled, Status: "True", Reason: "JobFailed", Message: text}}}, nil
		}
	}
	if st, _, _ := unstructured.NestedString(obj, "status", "startTime"); st == "" {
		return &status.Result{Status: status.InProgressStatus, Message: fmt.Sprintf("Job not started. active: 0/%d", parallelism)}, nil
	}
	return &status.Result{Status: status.InProgressStatus,
		Message: fmt.Sprintf("Job in progress. succeeded: %d, active: %d, failed: %d", succeeded, active, failed)}, nil
}

// intField reads a number whatever type its decoder gave it.
func intField(obj map[string]any, def int64, fields ...string) int64 {
	v, ok, _ := unstructured.NestedFieldNoCopy(obj, fields...)
	if !ok {
		return def
	}
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case int32:
		return int64(n)
	case float64:
		return int64(n)
	}
	return def
}

// jobStatusReader plugs jobStatus into the kstatus poller.
type jobStatusReader struct{ generic engine.StatusReader }

func newJobStatusReader(mapper apimeta.RESTMapper) engine.StatusReader {
	return &jobStatusReader{generic: kstatusreaders.NewGenericStatusReader(mapper, jobStatus)}
}

func (r *jobStatusReader) Supports(gk schema.GroupKind) bool { return gk == jobKind }

func (r *jobStatusReader) ReadStatus(ctx context.Context, reader engine.ClusterReader, id object.ObjMetadata) (*event.ResourceStatus, error) {
	return r.generic.ReadStatus(ctx, reader, id)
}

func (r *jobStatusReader) ReadStatusForObject(ctx context.Context, reader engine.ClusterReader, u *unstructured.Unstructured) (*event.ResourceStatus, error) {
	return r.generic.ReadStatusForObject(ctx, reader, u)
}
