package helmrelease_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/helmchart"
	"github.com/gitopskit/gitopskit/examples/helmrelease"
	"github.com/gitopskit/gitopskit/examples/helmrepository"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/examples/ocirepository"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/source/helm"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	sourcetest.Main(m, testenv.Options{}, &env)
}

// startControllers runs the HelmRepository, HelmChart, OCIRepository and HelmRelease
// controllers in a fresh manager until the test ends; configure adjusts
// the HelmRelease reconciler.
func startControllers(t *testing.T, configure ...func(*helmrelease.Reconciler)) {
	t.Helper()
	cache := helm.NewIndexCache(helm.CacheOptions{})
	sourcetest.Start(t, env, func(_ context.Context, mgr ctrl.Manager, store *artifact.Store) error {
		r := &helmrepository.Reconciler{Store: store, TempDir: t.TempDir(), Cache: cache}
		return r.SetupWithManager(mgr, helmrepository.Options{MaxConcurrentReconciles: 2, SkipNameValidation: true})
	}, func(ctx context.Context, mgr ctrl.Manager, store *artifact.Store) error {
		r := &helmchart.Reconciler{Store: store, TempDir: t.TempDir(), Cache: cache}
		return r.SetupWithManager(ctx, mgr, helmchart.Options{MaxConcurrentReconciles: 2, SkipNameValidation: true})
	}, func(_ context.Context, mgr ctrl.Manager, store *artifact.Store) error {
		r := &ocirepository.Reconciler{Store: store, TempDir: t.TempDir()}
		return r.SetupWithManager(mgr, ocirepository.Options{MaxConcurrentReconciles: 2, SkipNameValidation: true})
	}, func(ctx context.Context, mgr ctrl.Manager, _ *artifact.Store) error {
		// A remediated release is retried after an hour: the tests see
		// each remediation once.
		r := &helmrelease.Reconciler{TempDir: t.TempDir(), DependencyRequeueInterval: time.Second, RetryInterval: time.Hour}
		for _, c := range configure {
			c(r)
		}
		return r.SetupWithManager(ctx, mgr, helmrelease.Options{MaxConcurrentReconciles: 4, SkipNameValidation: true})
	})
}

// appChart returns the files of the test chart of package helmrelease (a
// Deployment, a Service, a ConfigMap, a CRD, a pre-install/pre-upgrade
// hook Job and a test Pod) at version.
func appChart(t *testing.T, version string) map[string]string {
	t.Helper()
	root := filepath.Join("..", "..", "helmrelease", "testdata", "app")
	files := map[string]string{}
	if err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	files["Chart.yaml"] = strings.Replace(files["Chart.yaml"], "version: 1.2.3", "version: "+version, 1)
	// The chart label writes a version's build metadata with "_", as the
	// charts of helm create do: a label value has no "+" (a chart from an
	// OCIRepository has the artifact digest as build metadata).
	label := `{{ printf "%s-%s" .Chart.Name .Chart.Version }}`
	if !strings.Contains(files["templates/_helpers.tpl"], label) {
		t.Fatalf("the test chart's helm.sh/chart label is not %s", label)
	}
	files["templates/_helpers.tpl"] = strings.Replace(files["templates/_helpers.tpl"], label, `{{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}`, 1)
	return files
}

// repository serves the test chart at versions and creates a
// HelmRepository "charts" for it in ns.
func repository(t *testing.T, ns string, versions ...string) *helmtest.Server {
	t.Helper()
	srv := helmtest.New(t)
	for _, v := range versions {
		if _, err := srv.AddChart(appChart(t, v)); err != nil {
			t.Fatal(err)
		}
	}
	create(t, &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "charts", Namespace: ns},
		Spec:       sourcev1.HelmRepositorySpec{URL: srv.URL, Interval: metav1.Duration{Duration: time.Hour}},
	})
	return srv
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

// values returns v as spec.values.
func values(t *testing.T, v map[string]any) *apiextensionsv1.JSON {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return &apiextensionsv1.JSON{Raw: b}
}

// update applies change to the latest obj, retrying on conflicts.
func update[T client.Object](t *testing.T, obj T, change func(T)) {
	t.Helper()
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		change(obj)
		return env.Client.Update(context.Background(), obj)
	}); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls obj until cond holds, for up to timeout.
func waitFor[T client.Object](t *testing.T, obj T, timeout time.Duration, what string, cond func(T) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err
		}
		return cond(obj), nil
	}); err != nil {
		status, _ := json.MarshalIndent(obj, "", "  ")
		var evs eventsv1.EventList
		_ = env.Client.List(context.Background(), &evs, client.InNamespace(obj.GetNamespace()))
		for _, e := range evs.Items {
			t.Logf("event %s %s/%s %s: %s", e.Type, e.Regarding.Kind, e.Regarding.Name, e.Reason, e.Note)
		}
		t.Fatalf("%s: %v\n%s", what, err, status)
	}
}

// condition returns whether a HelmRelease has condition typ with status
// and reason at its current generation.
func condition(typ string, status metav1.ConditionStatus, reason string) func(*helmv2.HelmRelease) bool {
	return func(o *helmv2.HelmRelease) bool {
		c := apimeta.FindStatusCondition(o.Status.Conditions, typ)
		return c != nil && c.Status == status && c.Reason == reason && c.ObservedGeneration == o.Generation
	}
}

// ready returns whether a HelmRelease is Ready with reason at release
// revision version.
func ready(reason string, version int) func(*helmv2.HelmRelease) bool {
	return func(o *helmv2.HelmRelease) bool {
		l := o.Status.History.Latest()
		return condition(meta.ReadyCondition, metav1.ConditionTrue, reason)(o) && l != nil && l.Version == version
	}
}

// event waits for an Event about name in ns with reason whose note
// contains text, and returns it.
func event(t *testing.T, ns, name, reason, text string) eventsv1.Event {
	t.Helper()
	var found eventsv1.Event
	sourcetest.Poll(t, 30*time.Second, reason+" event", func(ctx context.Context) (bool, error) {
		var evs eventsv1.EventList
		if err := env.Client.List(ctx, &evs, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Regarding.Name == name && e.Reason == reason && strings.Contains(e.Note, text) {
				found = e
				return true, nil
			}
		}
		return false, nil
	})
	return found
}
