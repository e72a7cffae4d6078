package cluster

import (
	"context"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/engine"
	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/event"
	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/statusreaders"
	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/cli-utils/pkg/object"
	"helm.sh/helm/v4/pkg/kube"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/reconcile"
)

// waitOptions gives Helm's kstatus watcher a status reader per health
// expression of w, so that the kinds they name are judged by them.
func (c *Client) waitOptions(w Wait) ([]kube.WaitOption, error) {
	if w.Disable || w.Legacy || len(w.HealthChecks) == 0 {
		return nil, nil
	}
	mapper, err := c.getter.ToRESTMapper()
	if err != nil {
		return nil, err
	}
	readers := make([]engine.StatusReader, 0, len(w.HealthChecks))
	for _, h := range w.HealthChecks {
		ev, err := reconcile.CompileHealthCheck(h)
		if err != nil {
			return nil, err
		}
		readers = append(readers, healthReader{gk: ev.GroupKind(), generic: statusreaders.NewGenericStatusReader(mapper,
			func(u *unstructured.Unstructured) (*status.Result, error) {
				return ev.Evaluate(context.Background(), u)
			})})
	}
	return []kube.WaitOption{kube.WithKStatusReaders(readers...)}, nil
}

// healthReader reads the status of one kind with a health expression.
type healthReader struct {
	gk      schema.GroupKind
	generic engine.StatusReader
}

func (r healthReader) Supports(gk schema.GroupKind) bool { return gk == r.gk }

func (r healthReader) ReadStatus(ctx context.Context, reader engine.ClusterReader, id object.ObjMetadata) (*event.ResourceStatus, error) {
	return r.generic.ReadStatus(ctx, reader, id)
}

func (r healthReader) ReadStatusForObject(ctx context.Context, reader engine.ClusterReader, u *unstructured.Unstructured) (*event.ResourceStatus, error) {
	return r.generic.ReadStatusForObject(ctx, reader, u)
}
