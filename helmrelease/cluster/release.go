package cluster

import (
	"bytes"
	"sort"
	"time"

	releasev1 "helm.sh/helm/v4/pkg/release/v1"

	"github.com/gitopskit/gitopskit/helmrelease"
)

// Release is one revision of a release as Helm stores it, in the terms
// Flux's status.history snapshots use.
type Release struct {
	Name      string
	Namespace string
	Revision  int
	// Status is Helm's: "deployed", "failed", "superseded", "uninstalled",
	// "pending-install", ...
	Status       string
	Description  string
	ChartName    string
	ChartVersion string
	AppVersion   string
	// ValuesDigest is helmrelease.DigestValues of the release's values.
	ValuesDigest  string
	FirstDeployed time.Time
	LastDeployed  time.Time
	Deleted       time.Time
	// Manifest is the release manifest.
	Manifest string
	// Tests are the results of the last test run.
	Tests []TestResult
}

// TestResult is the last run of one test hook.
type TestResult struct {
	Name string
	// Phase is "Succeeded", "Failed", "Running" or "Unknown".
	Phase       string
	StartedAt   time.Time
	CompletedAt time.Time
}

// Tested reports whether the release's tests ran.
func (r *Release) Tested() bool {
	for _, t := range r.Tests {
		if !t.StartedAt.IsZero() {
			return true
		}
	}
	return false
}

// TestsFailed reports a test that failed in the last run.
func (r *Release) TestsFailed() bool {
	for _, t := range r.Tests {
		if t.Phase == string(releasev1.HookPhaseFailed) {
			return true
		}
	}
	return false
}

func releaseOf(r *releasev1.Release) *Release {
	out := &Release{
		Name:         r.Name,
		Namespace:    r.Namespace,
		Revision:     r.Version,
		Manifest:     r.Manifest,
		ValuesDigest: helmrelease.DigestValues(r.Config),
	}
	if r.Info != nil {
		out.Status = string(r.Info.Status)
		out.Description = r.Info.Description
		out.FirstDeployed = r.Info.FirstDeployed
		out.LastDeployed = r.Info.LastDeployed
		out.Deleted = r.Info.Deleted
	}
	if r.Chart != nil && r.Chart.Metadata != nil {
		out.ChartName = r.Chart.Metadata.Name
		out.ChartVersion = r.Chart.Metadata.Version
		out.AppVersion = r.Chart.Metadata.AppVersion
	}
	for _, h := range r.Hooks {
		for _, e := range h.Events {
			if e == releasev1.HookTest {
				out.Tests = append(out.Tests, TestResult{
					Name:        h.Name,
					Phase:       string(h.LastRun.Phase),
					StartedAt:   h.LastRun.StartedAt,
					CompletedAt: h.LastRun.CompletedAt,
				})
				break
			}
		}
	}
	return out
}

func sortByRevision(rs []*Release) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Revision < rs[j].Revision })
}

// postRenderers chains post-renderers for Helm.
type postRenderers []helmrelease.PostRenderer

func (p postRenderers) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	var err error
	for _, r := range p {
		if in, err = r.Run(in); err != nil {
			return nil, err
		}
	}
	return in, nil
}
