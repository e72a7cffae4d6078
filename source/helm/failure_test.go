package helm_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gitopskit/gitopskit/source/helm"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// Each failing stage is reported with Flux's reason.
func TestFailureOf(t *testing.T) {
	srv := helmtest.New(t)
	addCharts(t, srv, "app", "1.0.0")
	broken := helmtest.New(t)
	addCharts(t, broken, "app", "1.0.0")
	broken.SetChartData("app", "1.0.0", []byte("changed"))
	reg := ocitest.New(t)
	pushChart(t, reg, "charts/app", "app", "1.0.0")
	root := t.TempDir()
	writeTree(t, root, chartWithDeps("- name: remote\n  repository: "+srv.URL+"\n"))
	ctx := context.Background()
	run := func(f func(dir string) error) error { return f(t.TempDir()) }

	tests := []struct {
		name string
		err  error
		want helm.Failure
	}{
		{"missing version", run(func(d string) error {
			_, err := (&helm.Chart{Repository: srv.Repository(), Name: "app", Version: "2.x"}).Pull(ctx, d)
			return err
		}), helm.Failure{Reason: helm.ReasonInvalidChartReference}},
		{"bad range", run(func(d string) error {
			_, err := (&helm.Chart{Repository: srv.Repository(), Name: "app", Version: "not a range"}).Pull(ctx, d)
			return err
		}), helm.Failure{Reason: helm.ReasonInvalidChartReference, Persistent: true}},
		{"index", run(func(d string) error {
			_, err := (&helm.Chart{Repository: &helm.Repository{URL: srv.URL + "/none"}, Name: "app"}).Pull(ctx, d)
			return err
		}), helm.Failure{Reason: helm.ReasonChartPullError}},
		{"digest", run(func(d string) error {
			_, err := (&helm.Chart{Repository: broken.Repository(), Name: "app"}).Pull(ctx, d)
			return err
		}), helm.Failure{Reason: helm.ReasonChartVerificationError, Build: true}},
		{"values", run(func(d string) error {
			_, err := (&helm.Chart{Repository: srv.Repository(), Name: "app", Options: helm.ChartOptions{ValuesFiles: []string{"none.yaml"}}}).Pull(ctx, d)
			return err
		}), helm.Failure{Reason: helm.ReasonValuesFilesError, Build: true, Persistent: true}},
		{"metadata", run(func(d string) error {
			_, err := (&helm.Chart{Repository: srv.Repository(), Name: "app", Options: helm.ChartOptions{VersionMetadata: "not valid!"}}).Pull(ctx, d)
			return err
		}), helm.Failure{Reason: helm.ReasonMetadataPatchError, Build: true, Persistent: true}},
		{"oci version", run(func(d string) error {
			_, err := (&helm.OCIChart{URL: reg.URL("charts"), Name: "app", Version: "9.x", Client: reg.Client()}).Pull(ctx, d)
			return err
		}), helm.Failure{Reason: helm.ReasonInvalidChartReference}},
		{"build path", run(func(d string) error {
			_, err := (&helm.Build{Root: root, Path: "charts/none"}).Run(ctx, d)
			return err
		}), helm.Failure{Reason: helm.ReasonInvalidChartReference}},
		{"dependency", run(func(d string) error {
			_, err := (&helm.Build{Root: root, Path: "charts/app"}).Run(ctx, d)
			return err
		}), helm.Failure{Reason: helm.ReasonDependencyBuildError, Build: true}},
		{"not ours", errors.New("other"), helm.Failure{Reason: helm.ReasonUnknown}},
	}
	for _, tc := range tests {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if got := helm.FailureOf(tc.err); got != tc.want {
			t.Errorf("%s: FailureOf(%v) = %+v, want %+v", tc.name, tc.err, got, tc.want)
		}
	}
}
