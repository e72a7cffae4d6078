package helmchart_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/helmchart"
	"github.com/gitopskit/gitopskit/examples/helmrepository"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/source/helm"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	sourcetest.Main(m, testenv.Options{NoNodes: true}, &env)
}

// startControllers runs the HelmRepository and HelmChart controllers,
// sharing an index cache, with the storage server in a fresh manager
// until the test ends, and returns the store.
func startControllers(t *testing.T) *artifact.Store {
	t.Helper()
	cache := helm.NewIndexCache(helm.CacheOptions{})
	return sourcetest.Start(t, env, func(_ context.Context, mgr ctrl.Manager, store *artifact.Store) error {
		r := &helmrepository.Reconciler{Store: store, TempDir: t.TempDir(), Cache: cache}
		return r.SetupWithManager(mgr, helmrepository.Options{MaxConcurrentReconciles: 2, SkipNameValidation: true})
	}, func(ctx context.Context, mgr ctrl.Manager, store *artifact.Store) error {
		r := &helmchart.Reconciler{Store: store, TempDir: t.TempDir(), Cache: cache}
		return r.SetupWithManager(ctx, mgr, helmchart.Options{MaxConcurrentReconciles: 2, SkipNameValidation: true})
	})
}

// waitFor polls obj until cond holds.
func waitFor[T client.Object](t *testing.T, obj T, what string, cond func(T) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err
		}
		return cond(obj), nil
	}); err != nil {
		status, _ := json.MarshalIndent(obj, "", "  ")
		t.Fatalf("%s: %v\n%s", what, err, status)
	}
}

// create creates obj.
func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

// secret creates a Secret in ns.
func secret(t *testing.T, ns, name string, data map[string][]byte) {
	t.Helper()
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data})
}

// request asks for a reconcile of obj with token, as flux reconcile does.
func request(t *testing.T, obj client.Object, token string) {
	t.Helper()
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		obj.SetAnnotations(map[string]string{meta.ReconcileRequestAnnotation: token})
		return env.Client.Update(context.Background(), obj)
	}); err != nil {
		t.Fatal(err)
	}
}

// chart returns a HelmChart of chart at version from the source kind/name.
func chart(ns, name, kind, source, chart, version string) *sourcev1.HelmChart {
	return &sourcev1.HelmChart{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: sourcev1.HelmChartSpec{Chart: chart, Version: version, Interval: metav1.Duration{Duration: time.Hour},
			SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: kind, Name: source}},
	}
}

// readyAt returns whether a HelmChart is Ready at version with reason.
func readyAt(version, reason string) func(*sourcev1.HelmChart) bool {
	return func(o *sourcev1.HelmChart) bool {
		c := apimeta.FindStatusCondition(o.Status.Conditions, meta.ReadyCondition)
		return o.Status.Artifact != nil && o.Status.Artifact.Revision == version && c != nil &&
			c.Status == metav1.ConditionTrue && c.Reason == reason && o.Status.ObservedGeneration == o.Generation
	}
}

// condition returns whether o has condition typ with status and reason.
func condition(typ string, status metav1.ConditionStatus, reason string) func(*sourcev1.HelmChart) bool {
	return func(o *sourcev1.HelmChart) bool {
		c := apimeta.FindStatusCondition(o.Status.Conditions, typ)
		return c != nil && c.Status == status && c.Reason == reason
	}
}

// event waits for an Event about name in ns with reason whose note
// contains text.
func event(t *testing.T, ns, name, reason, text string) {
	t.Helper()
	sourcetest.Poll(t, 30*time.Second, reason+" event", func(ctx context.Context) (bool, error) {
		var evs eventsv1.EventList
		if err := env.Client.List(ctx, &evs, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Regarding.Name == name && e.Reason == reason && strings.Contains(e.Note, text) {
				return true, nil
			}
		}
		return false, nil
	})
}
