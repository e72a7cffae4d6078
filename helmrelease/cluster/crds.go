package cluster

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"helm.sh/helm/v4/pkg/kube"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gitopskit/gitopskit/helmrelease"
)

// CRDsCreateReplace creates missing CRDs and updates existing ones from
// the chart's crds/ directory (server-side apply, conflicts forced), on
// install and upgrade, as Flux's CreateReplace policy.
const CRDsCreateReplace CRDPolicy = "CreateReplace"

// applyCRDs applies the chart's crds/ files with policy before an action
// that then skips them, and waits until they are established; non-CRD
// objects in crds/ are ignored, as Flux ignores them.
func (c *Client) applyCRDs(ctx context.Context, ch *helmrelease.Chart, policy CRDPolicy, timeout time.Duration) error {
	crds := ch.Helm().CRDObjects()
	if len(crds) == 0 {
		return nil
	}
	var all kube.ResourceList
	for _, f := range crds {
		res, err := c.cfg.KubeClient.Build(bytes.NewReader(f.File.Data), false)
		if err != nil {
			return fmt.Errorf("CRDs: %s: %w", f.Name, err)
		}
		for _, info := range res {
			gvk := info.Mapping.GroupVersionKind
			if gvk.Group == "apiextensions.k8s.io" && gvk.Kind == "CustomResourceDefinition" {
				all = append(all, info)
			}
		}
	}
	for i := range all {
		one := all[i : i+1]
		var err error
		if policy == CRDsCreateReplace {
			_, err = c.cfg.KubeClient.Create(one, kube.ClientCreateOptionServerSideApply(true, true))
		} else {
			_, err = c.cfg.KubeClient.Create(one, kube.ClientCreateOptionServerSideApply(false, false))
			if apierrors.IsAlreadyExists(err) {
				err = nil
			}
		}
		if err != nil {
			return fmt.Errorf("CRD %s: %w", all[i].Name, err)
		}
	}
	w, err := c.cfg.KubeClient.GetWaiter(kube.StatusWatcherStrategy)
	if err != nil {
		return err
	}
	if err := w.Wait(all, timeoutOr(timeout)); err != nil {
		return fmt.Errorf("CRDs not established: %w", err)
	}
	return ctx.Err()
}
