package cluster_test

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/helmrelease/cluster"
)

// Example is one reconciliation of a release: compose the values, observe
// the release, and let Step run the action Flux's state machine picks.
func Example() {
	ctx := context.Background()
	cfg := &rest.Config{Host: "https://cluster.example:6443"} // impersonating the HelmRelease's service account
	ch, err := helmrelease.LoadChartDir("../testdata/app")
	if err != nil {
		fmt.Println(err)
		return
	}
	values, err := helmrelease.ComposeValues(ctx, helmrelease.ValuesOptions{Values: map[string]any{"replicaCount": 2}})
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := cluster.New(ctx, cluster.Options{Config: cfg, Namespace: "apps", StorageNamespace: "flux-system"})
	if err != nil {
		fmt.Println(err)
		return
	}
	name := helmrelease.ReleaseName("web", "apps", "")
	want := cluster.Desired{Chart: ch, Values: values, KnownRevision: 0, TestEnabled: true}
	status, _, err := c.Observe(ctx, name, want)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := c.Step(ctx, name, want, helmrelease.Observation{
		Status:  status,
		Install: helmrelease.Remediation{Retries: 3},
		Upgrade: helmrelease.Remediation{Retries: 3, Strategy: helmrelease.StrategyRollback},
	}, cluster.StepOptions{Install: cluster.InstallOptions{Timeout: 5 * time.Minute, CreateNamespace: true}})
	fmt.Println(res.Decision.Action, res.Failed, err)
}
