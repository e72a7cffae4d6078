package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/controllers"
	"github.com/gitopskit/gitopskit/examples/fluxscheme"
	"github.com/gitopskit/gitopskit/notify"
	"github.com/gitopskit/gitopskit/source/git/gittest"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
)

// shardRun is one controllers.Start of the sharding test: its selector,
// the field manager its writes carry (from its user agent) and the objects
// its Events were about.
type shardRun struct {
	name, selector, manager string
	running                 *controllers.Running

	mu      sync.Mutex
	touched map[string]bool // "Kind/namespace/name" of every Event's involved object
}

func (s *shardRun) record(_ context.Context, e notify.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touched[e.InvolvedObject.Kind+"/"+e.InvolvedObject.Namespace+"/"+e.InvolvedObject.Name] = true
	return nil
}

func (s *shardRun) sawEventAbout(kind, ns, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.touched[kind+"/"+ns+"/"+name]
}

// TestShardWatchLabelSelector runs two shards and the catch-all on one
// control plane, as Flux's sharding guide deploys them: each GitRepository
// and Kustomization is reconciled by its own shard only, relabelling moves
// it to another shard, and removing its label hands it to the catch-all.
func TestShardWatchLabelSelector(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, ns := shardSetup(ctx, t)
	shards := []*shardRun{
		shardStart(ctx, t, "shard1", fluxscheme.ShardKeyLabel+"=shard1"),
		shardStart(ctx, t, "shard2", fluxscheme.ShardKeyLabel+"=shard2"),
		shardStart(ctx, t, "catchall", "!"+fluxscheme.ShardKeyLabel),
	}
	byName := map[string]*shardRun{"shard1": shards[0], "shard2": shards[1], "": shards[2]}

	srv := gittest.NewHTTPServer(t)
	repo := srv.NewRepo(t, "fleet")
	files := map[string]string{}
	for _, key := range []string{"shard1", "shard2", ""} {
		files[shardSuffix(key)+"/cm.yaml"] = shardConfigMap(ns, key, "1")
	}
	first := "main@sha1:" + repo.Commit("one ConfigMap per shard", files)

	for _, key := range []string{"shard1", "shard2", ""} {
		labels := map[string]string{}
		if key != "" {
			labels[fluxscheme.ShardKeyLabel] = key
		}
		suffix := shardSuffix(key)
		gr := &sourcev1.GitRepository{
			ObjectMeta: metav1.ObjectMeta{Name: "repo-" + suffix, Namespace: ns, Labels: labels},
			Spec: sourcev1.GitRepositorySpec{
				URL:       srv.URL + "/fleet",
				Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
				Interval:  metav1.Duration{Duration: 10 * time.Minute},
			},
		}
		ks := &kustomizev1.Kustomization{
			ObjectMeta: metav1.ObjectMeta{Name: "apps-" + suffix, Namespace: ns, Labels: labels},
			Spec: kustomizev1.KustomizationSpec{
				Interval:      metav1.Duration{Duration: 10 * time.Minute},
				RetryInterval: &metav1.Duration{Duration: 2 * time.Second},
				Path:          "./" + suffix,
				Prune:         true,
				SourceRef:     kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: gr.Name},
			},
		}
		for _, o := range []client.Object{gr, ks} {
			if err := c.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Each object is reconciled by its own shard, and by no other.
	for _, key := range []string{"shard1", "shard2", ""} {
		owner := byName[key]
		suffix := shardSuffix(key)
		shardWaitArtifact(ctx, t, c, ns, "repo-"+suffix, owner, first)
		shardWaitApplied(ctx, t, c, ns, "apps-"+suffix, first)
		shardWaitConfigMap(ctx, t, c, ns, "cm-"+suffix, "1")
	}
	for _, key := range []string{"shard1", "shard2", ""} {
		owner := byName[key]
		suffix := shardSuffix(key)
		for _, o := range []client.Object{&sourcev1.GitRepository{}, &kustomizev1.Kustomization{}} {
			name := "repo-" + suffix
			kind := sourcev1.GitRepositoryKind
			if _, ok := o.(*kustomizev1.Kustomization); ok {
				name, kind = "apps-"+suffix, kustomizev1.KustomizationKind
			}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, o); err != nil {
				t.Fatal(err)
			}
			if got, want := shardManagers(o), []string{owner.manager}; !slices.Equal(got, want) {
				t.Errorf("%s %s was written by %v, want only its shard %v", kind, name, got, want)
			}
			shardPoll(ctx, t, time.Minute, owner.name+" recording an Event about "+kind+" "+name, func(context.Context) (bool, string) {
				return owner.sawEventAbout(kind, ns, name), "none yet"
			})
			for _, s := range shards {
				if s != owner && s.sawEventAbout(kind, ns, name) {
					t.Errorf("%s recorded an Event about %s %s, which belongs to %s", s.name, kind, name, owner.name)
				}
			}
		}
	}

	// A shard sees only its own objects: a Kustomization of shard1 whose
	// GitRepository has no shard label reports the source as not found
	// (Flux's kustomize-controller would see it).
	orphan := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: ns, Labels: map[string]string{fluxscheme.ShardKeyLabel: "shard1"}},
		Spec: kustomizev1.KustomizationSpec{
			Interval:  metav1.Duration{Duration: 10 * time.Minute},
			Path:      "./none",
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "repo-none"},
		},
	}
	if err := c.Create(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	shardPoll(ctx, t, time.Minute, "Kustomization orphan reporting its source not found", func(ctx context.Context) (bool, string) {
		var k kustomizev1.Kustomization
		if err := c.Get(ctx, client.ObjectKeyFromObject(orphan), &k); err != nil {
			return false, err.Error()
		}
		cond := apimeta.FindStatusCondition(k.Status.Conditions, meta.ReadyCondition)
		return cond != nil && cond.Status == metav1.ConditionFalse && strings.Contains(cond.Message, "not found"), fmt.Sprintf("Ready %+v", cond)
	})

	// Relabelling moves objects to another shard: shard1's pair goes to
	// shard2, which fetches the source into its own store (its artifact URL
	// changes) and applies the newer commit.
	second := "main@sha1:" + repo.Commit("shard1's ConfigMap changes", map[string]string{
		"shard1/cm.yaml": shardConfigMap(ns, "shard1", "2"),
	})
	for _, o := range []client.Object{
		&kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "apps-shard1", Namespace: ns}},
		&sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: "repo-shard1", Namespace: ns}},
	} {
		patch := []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:"shard2"}}}`, fluxscheme.ShardKeyLabel))
		if err := c.Patch(ctx, o, client.RawPatch("application/merge-patch+json", patch)); err != nil {
			t.Fatal(err)
		}
	}
	shardWaitArtifact(ctx, t, c, ns, "repo-shard1", byName["shard2"], second)
	shardWaitApplied(ctx, t, c, ns, "apps-shard1", second)
	shardWaitConfigMap(ctx, t, c, ns, "cm-shard1", "2")
	for _, o := range []client.Object{&sourcev1.GitRepository{}, &kustomizev1.Kustomization{}} {
		name := "repo-shard1"
		if _, ok := o.(*kustomizev1.Kustomization); ok {
			name = "apps-shard1"
		}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, o); err != nil {
			t.Fatal(err)
		}
		got := shardManagers(o)
		if !slices.Contains(got, byName["shard2"].manager) || slices.Contains(got, byName[""].manager) {
			t.Errorf("%T %s after the move was written by %v, want shard2 and never the catch-all", o, name, got)
		}
	}
	if byName[""].sawEventAbout(kustomizev1.KustomizationKind, ns, "apps-shard1") ||
		byName[""].sawEventAbout(sourcev1.GitRepositoryKind, ns, "repo-shard1") {
		t.Error("the catch-all recorded an Event about an object that only moved between shards")
	}

	// Removing the label hands shard2's own pair to the catch-all.
	third := "main@sha1:" + repo.Commit("shard2's ConfigMap changes", map[string]string{
		"shard2/cm.yaml": shardConfigMap(ns, "shard2", "3"),
	})
	for _, o := range []client.Object{
		&kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "apps-shard2", Namespace: ns}},
		&sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: "repo-shard2", Namespace: ns}},
	} {
		patch := []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:null}}}`, fluxscheme.ShardKeyLabel))
		if err := c.Patch(ctx, o, client.RawPatch("application/merge-patch+json", patch)); err != nil {
			t.Fatal(err)
		}
	}
	shardWaitArtifact(ctx, t, c, ns, "repo-shard2", byName[""], third)
	shardWaitApplied(ctx, t, c, ns, "apps-shard2", third)
	shardWaitConfigMap(ctx, t, c, ns, "cm-shard2", "3")
	var k kustomizev1.Kustomization
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "apps-shard2"}, &k); err != nil {
		t.Fatal(err)
	}
	if got := shardManagers(&k); !slices.Contains(got, byName[""].manager) || slices.Contains(got, byName["shard1"].manager) {
		t.Errorf("Kustomization apps-shard2 after losing its label was written by %v, want the catch-all and never shard1", got)
	}
	if byName["shard1"].sawEventAbout(sourcev1.GitRepositoryKind, ns, "repo-shard2") ||
		byName["shard1"].sawEventAbout(kustomizev1.KustomizationKind, ns, "apps-shard2") {
		t.Error("shard1 recorded an Event about shard2's objects")
	}
}

// TestShardHelmRelease shards a HelmRelease with its HelmRepository: the
// HelmChart it creates carries the shard label of spec.chart.metadata, so
// the same shard builds the chart and installs it, and the catch-all never
// touches any of the three.
func TestShardHelmRelease(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, ns := shardSetup(ctx, t)
	shard1 := shardStart(ctx, t, "shard1", fluxscheme.ShardKeyLabel+"=shard1")
	catchAll := shardStart(ctx, t, "catchall", "!"+fluxscheme.ShardKeyLabel)

	charts := helmtest.New(t)
	if _, err := charts.AddChart(map[string]string{
		"Chart.yaml":        "apiVersion: v2\nname: cm\nversion: 0.1.0\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  value: {{ .Values.value | quote }}\n",
	}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{fluxscheme.ShardKeyLabel: "shard1"}
	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns, Labels: labels},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: 10 * time.Minute},
			Chart: &helmv2.HelmChartTemplate{
				ObjectMeta: &helmv2.HelmChartTemplateObjectMeta{Labels: labels},
				Spec: helmv2.HelmChartTemplateSpec{
					Chart: "cm", Version: "0.1.0",
					SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
				},
			},
			Values: &apiextensionsv1.JSON{Raw: []byte(`{"value":"sharded"}`)},
		},
	}
	for _, o := range []client.Object{
		&sourcev1.HelmRepository{
			ObjectMeta: metav1.ObjectMeta{Name: "charts", Namespace: ns, Labels: labels},
			Spec:       sourcev1.HelmRepositorySpec{URL: charts.URL, Interval: metav1.Duration{Duration: 10 * time.Minute}},
		},
		hr,
	} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	chartName := hr.GetHelmChartName()
	shardPoll(ctx, t, 2*time.Minute, "HelmChart "+chartName+" stored by shard1", func(ctx context.Context) (bool, string) {
		var hc sourcev1.HelmChart
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: chartName}, &hc); err != nil {
			return false, err.Error()
		}
		if a := hc.Status.Artifact; a != nil {
			return strings.HasPrefix(a.URL, shard1.running.StoreURL+"/"), "artifact at " + a.URL
		}
		return false, fmt.Sprintf("labels %v, no artifact; conditions %v", hc.Labels, hc.Status.Conditions)
	})
	shardPoll(ctx, t, 2*time.Minute, "HelmRelease app Ready", func(ctx context.Context) (bool, string) {
		var got helmv2.HelmRelease
		if err := c.Get(ctx, client.ObjectKeyFromObject(hr), &got); err != nil {
			return false, err.Error()
		}
		cond := apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition)
		return cond != nil && cond.Status == metav1.ConditionTrue && cond.ObservedGeneration == got.Generation, fmt.Sprintf("Ready %+v", cond)
	})
	shardWaitConfigMap(ctx, t, c, ns, "app", "sharded")

	for _, o := range []client.Object{
		&sourcev1.HelmRepository{ObjectMeta: metav1.ObjectMeta{Name: "charts", Namespace: ns}},
		&sourcev1.HelmChart{ObjectMeta: metav1.ObjectMeta{Name: chartName, Namespace: ns}},
		&helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns}},
	} {
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
			t.Fatal(err)
		}
		if got, want := shardManagers(o), []string{shard1.manager}; !slices.Equal(got, want) {
			t.Errorf("%T %s was written by %v, want only %v", o, o.GetName(), got, want)
		}
	}
	for _, kind := range []string{sourcev1.HelmRepositoryKind, sourcev1.HelmChartKind, helmv2.HelmReleaseKind} {
		for _, name := range []string{"charts", chartName, "app"} {
			if catchAll.sawEventAbout(kind, ns, name) {
				t.Errorf("the catch-all recorded an Event about %s %s", kind, name)
			}
		}
	}
}

// TestShardInvalidWatchLabelSelector checks that Start refuses a selector
// Flux's --watch-label-selector would refuse, naming it.
func TestShardInvalidWatchLabelSelector(t *testing.T) {
	for _, sel := range []string{"sharding.fluxcd.io/key in shard1", "sharding.fluxcd.io/key!=shard1", "!"} {
		r, err := controllers.Start(context.Background(), controllers.Config{
			REST:               env.Config,
			StoreDir:           t.TempDir(),
			WatchLabelSelector: sel,
			SkipNameValidation: true,
		})
		if err == nil {
			r.Stop()
			t.Errorf("Start with WatchLabelSelector %q succeeded, want an error", sel)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "WatchLabelSelector") || !strings.Contains(msg, fmt.Sprintf("%q", sel)) {
			t.Errorf("Start with WatchLabelSelector %q: error %q does not name the option and the selector", sel, msg)
		}
	}
}

// shardSetup returns a client that knows Flux's kinds (env.Client knows
// only built-in ones) and a new namespace for the test's objects.
func shardSetup(ctx context.Context, t *testing.T) (client.Client, string) {
	t.Helper()
	scheme, err := fluxscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "shard-test-"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	return c, ns.Name
}

// shardStart starts the controllers with selector, stopped when the test
// ends. Their writes carry the field manager "gitopskit-shard-<name>": the
// API server names the manager of a write without one after the user
// agent, so each shard's writes are told apart in managedFields.
func shardStart(ctx context.Context, t *testing.T, name, selector string) *shardRun {
	t.Helper()
	s := &shardRun{name: name, selector: selector, manager: "gitopskit-shard-" + name, touched: map[string]bool{}}
	cfg := rest.CopyConfig(env.Config)
	cfg.UserAgent = s.manager + "/test"
	r, err := controllers.Start(ctx, controllers.Config{
		REST:               cfg,
		StoreDir:           t.TempDir(),
		WatchLabelSelector: selector,
		SkipNameValidation: true,
		Notify:             notify.RecorderFunc(s.record),
	})
	if err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	s.running = r
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("stopping %s: %v", name, err)
		}
	})
	return s
}

// shardSuffix names the objects of a shard key; "none" for the unlabelled.
func shardSuffix(key string) string {
	if key == "" {
		return "none"
	}
	return key
}

func shardConfigMap(ns, key, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%s\n  namespace: %s\ndata:\n  value: %q\n", shardSuffix(key), ns, value)
}

// shardManagers returns the sorted field managers of o's writes that came
// from one of the test's shards.
func shardManagers(o client.Object) []string {
	var out []string
	for _, f := range o.GetManagedFields() {
		if strings.HasPrefix(f.Manager, "gitopskit-shard-") && !slices.Contains(out, f.Manager) {
			out = append(out, f.Manager)
		}
	}
	slices.Sort(out)
	return out
}

// shardPoll calls cond until it reports true, failing the test with what
// after timeout.
func shardPoll(ctx context.Context, t *testing.T, timeout time.Duration, what string, cond func(context.Context) (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state := cond(ctx)
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last: %s", what, timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// shardWaitArtifact waits until GitRepository name has revision's artifact
// served by owner's artifact server.
func shardWaitArtifact(ctx context.Context, t *testing.T, c client.Client, ns, name string, owner *shardRun, revision string) {
	t.Helper()
	shardPoll(ctx, t, 2*time.Minute, "GitRepository "+name+" stored by "+owner.name, func(ctx context.Context) (bool, string) {
		var gr sourcev1.GitRepository
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &gr); err != nil {
			return false, err.Error()
		}
		a := gr.Status.Artifact
		if a == nil {
			return false, fmt.Sprintf("no artifact; conditions %v", gr.Status.Conditions)
		}
		return a.Revision == revision && strings.HasPrefix(a.URL, owner.running.StoreURL+"/"),
			fmt.Sprintf("artifact %s at %s (%s serves %s)", a.Revision, a.URL, owner.name, owner.running.StoreURL)
	})
}

// shardWaitApplied waits until Kustomization name is Ready with revision
// applied.
func shardWaitApplied(ctx context.Context, t *testing.T, c client.Client, ns, name, revision string) {
	t.Helper()
	shardPoll(ctx, t, 2*time.Minute, "Kustomization "+name+" applying "+revision, func(ctx context.Context) (bool, string) {
		var k kustomizev1.Kustomization
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &k); err != nil {
			return false, err.Error()
		}
		c := apimeta.FindStatusCondition(k.Status.Conditions, meta.ReadyCondition)
		ready := c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == k.Generation
		return ready && k.Status.LastAppliedRevision == revision,
			fmt.Sprintf("Ready %+v, lastAppliedRevision %q", c, k.Status.LastAppliedRevision)
	})
}

// shardWaitConfigMap waits until ConfigMap name holds value.
func shardWaitConfigMap(ctx context.Context, t *testing.T, c client.Client, ns, name, value string) {
	t.Helper()
	shardPoll(ctx, t, time.Minute, "ConfigMap "+name+" = "+value, func(ctx context.Context) (bool, string) {
		var cm corev1.ConfigMap
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cm); err != nil {
			return false, err.Error()
		}
		return cm.Data["value"] == value, fmt.Sprintf("value %q", cm.Data["value"])
	})
}
