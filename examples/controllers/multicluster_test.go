package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/controllers"
	"github.com/gitopskit/gitopskit/examples/fluxscheme"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/source/git/gittest"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
)

const (
	// multiClusterNamespace holds TestMultiCluster's objects on the
	// management cluster.
	multiClusterNamespace = "multicluster"
	// multiClusterTarget is the namespace the objects land in on each
	// remote cluster.
	multiClusterTarget = "apps"
	// multiClusterLabel marks every object the test's manifests and chart
	// create.
	multiClusterLabel = "multicluster.gitopskit.io/test"
	// multiClusterRetry is the retryInterval of every Kustomization and the
	// RetryOnFailure interval of every HelmRelease.
	multiClusterRetry = 2 * time.Second
	// multiClusterInterval is their interval: how soon a remote cluster
	// that went away is noticed.
	multiClusterInterval = 3 * time.Second
)

// multiClusterRemote is one remote cluster of TestMultiCluster.
type multiClusterRemote struct {
	name       string
	env        *testenv.Env
	kubeconfig []byte
}

// TestMultiCluster runs one controllers.Start on the management cluster
// (env) and reconciles, for each of three remote clusters (etcd and
// kube-apiserver only), a Kustomization and a HelmRelease through
// spec.kubeConfig, impersonating a service account that only the remote's
// RBAC knows. Each remote gets exactly its own objects; one remote's API
// server then goes away (its objects report the lost connection, without
// credentials) and comes back (they converge again on their own), while
// the others stay Ready throughout.
func TestMultiCluster(t *testing.T) {
	begin := time.Now()
	ctx := context.Background()
	ns := multiClusterNamespace
	c := multiClusterClient(t)

	// Three remote clusters, started side by side.
	remotes := make([]*multiClusterRemote, 3)
	var wg sync.WaitGroup
	errs := make([]error, len(remotes))
	for i := range remotes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := testenv.Start(ctx, testenv.Options{NoControllerManager: true, NoNodes: true})
			if err != nil {
				errs[i] = err
				return
			}
			remotes[i] = &multiClusterRemote{name: fmt.Sprintf("remote-%d", i), env: e}
		}()
	}
	wg.Wait()
	for i, r := range remotes {
		if r != nil {
			t.Cleanup(func() { _ = r.env.Stop() })
		}
		if errs[i] != nil {
			t.Fatalf("starting remote %d: %v", i, errs[i])
		}
	}
	t.Logf("three remote clusters started in %s", time.Since(begin).Round(time.Millisecond))

	// The management side: the namespace, one kubeconfig Secret per
	// remote, the Git repository and the chart repository.
	multiClusterCreate(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	for _, r := range remotes {
		kc, err := os.ReadFile(r.env.KubeconfigPath)
		if err != nil {
			t.Fatal(err)
		}
		r.kubeconfig = kc
		multiClusterCreate(t, c, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: r.name + "-kubeconfig", Namespace: ns},
			Data:       map[string][]byte{"value": kc},
		})
		multiClusterRemoteRBAC(t, r)
	}
	git := gittest.NewHTTPServer(t)
	repo := git.NewRepo(t, "fleet")
	head := repo.Commit("apps", map[string]string{
		"apps/cm.yaml":  multiClusterConfigMap("fleet", "${cluster}"),
		"other/cm.yaml": multiClusterConfigMap("other", "${cluster}"),
	})
	multiClusterCreate(t, c, &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: ns},
		Spec: sourcev1.GitRepositorySpec{
			URL: repo.URL, Interval: metav1.Duration{Duration: time.Hour},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
		},
	})
	charts := helmtest.New(t)
	if _, err := charts.AddChart(map[string]string{
		"Chart.yaml": "apiVersion: v2\nname: cm\nversion: 0.1.0\n",
		"templates/cm.yaml": multiClusterConfigMap("{{ .Release.Name }}", "{{ .Values.cluster }}") +
			"  chart: {{ .Chart.Name }}\n",
	}); err != nil {
		t.Fatal(err)
	}
	multiClusterCreate(t, c, &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "charts", Namespace: ns},
		Spec:       sourcev1.HelmRepositorySpec{URL: charts.URL, Interval: metav1.Duration{Duration: time.Hour}},
	})

	// One controller process for the management cluster.
	run, err := controllers.Start(ctx, controllers.Config{REST: env.Config, StoreDir: t.TempDir(), SkipNameValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := run.Stop(); err != nil {
			t.Errorf("stopping the controllers: %v", err)
		}
	})

	// A Kustomization and a HelmRelease per remote; the controllers
	// must still be running when they are deleted (the finalizers prune
	// and uninstall on the remotes), so this cleanup runs first.
	for _, r := range remotes {
		multiClusterCreate(t, c, multiClusterKustomization(r.name, "./apps", "deployer"))
		multiClusterCreate(t, c, multiClusterHelmRelease(t, r.name))
	}
	t.Cleanup(func() { multiClusterDeleteAll(t, c) })

	rev := "main@sha1:" + head
	for _, r := range remotes {
		multiClusterWaitKustomization(t, c, r.name, rev)
		multiClusterWaitHelmRelease(t, c, r.name)
	}
	t.Logf("three Kustomizations and three HelmReleases Ready on their remotes %s after the start", time.Since(begin).Round(time.Millisecond))

	t.Run("each remote gets exactly its objects", func(t *testing.T) {
		for _, r := range remotes {
			multiClusterCheckRemote(t, r)
		}
		multiClusterCheckManagement(t, c)
	})

	t.Run("a service account without rights fails clearly", func(t *testing.T) {
		k := multiClusterKustomization(remotes[0].name, "./other", "nobody")
		k.Name = "nobody-" + remotes[0].name
		multiClusterCreate(t, c, k)
		h := multiClusterHelmRelease(t, remotes[0].name)
		h.Name, h.Spec.ReleaseName, h.Spec.ServiceAccountName = "nobody-"+remotes[0].name, "nobody", "nobody"
		multiClusterCreate(t, c, h)
		user := "system:serviceaccount:" + ns + ":nobody"
		for _, obj := range []client.Object{k, h} {
			what := fmt.Sprintf("%T %s", obj, obj.GetName())
			var msg string
			multiClusterPoll(t, 60*time.Second, what+" failing", func(ctx context.Context) (bool, error) {
				if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
					return false, err
				}
				// Ready=False may first report something else; the
				// retries meet the refusal.
				ready := apimeta.FindStatusCondition(multiClusterConditions(obj), meta.ReadyCondition)
				if ready == nil || ready.Status != metav1.ConditionFalse {
					return false, nil
				}
				msg = ready.Message
				return strings.Contains(msg, "forbidden"), nil
			}, func() string { return "last Ready=False message: " + msg })
			t.Logf("%s: %s", what, msg)
			if !strings.Contains(msg, "forbidden") || !strings.Contains(msg, user) {
				t.Errorf("%s: message %q does not say that %s is forbidden", what, msg, user)
			}
			multiClusterNoCredentials(t, msg, remotes)
		}
		for _, name := range []string{"other", "nobody"} {
			var cm corev1.ConfigMap
			if err := remotes[0].env.Client.Get(ctx, client.ObjectKey{Namespace: multiClusterTarget, Name: name}, &cm); !apierrors.IsNotFound(err) {
				t.Errorf("ConfigMap %s on %s: %v, want not found", name, remotes[0].name, err)
			}
		}
		for _, obj := range []client.Object{k, h} {
			if err := c.Delete(ctx, obj); err != nil {
				t.Fatal(err)
			}
			multiClusterPoll(t, 60*time.Second, obj.GetName()+" deleted", func(ctx context.Context) (bool, error) {
				err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
				return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
			})
		}
	})

	t.Run("a remote that goes away is reported and converges when it is back", func(t *testing.T) {
		down := remotes[1]
		others := []*multiClusterRemote{remotes[0], remotes[2]}
		// A kubeconfig whose server URL carries a user name and password
		// (ignored by kube-apiserver, which authenticates the client
		// certificate): neither may show in the lost remote's messages
		// (reconcile.RESTConfigFromKubeConfig moves the userinfo into
		// rest.Config's Username and Password).
		userinfo := multiClusterUserinfoKubeconfig(t, down.kubeconfig, "gitopskit", multiClusterURLPassword)
		multiClusterCreate(t, c, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: down.name + "-userinfo", Namespace: ns},
			Data:       map[string][]byte{"value": userinfo},
		})
		ui := multiClusterKustomization(down.name, "./other", "nobody")
		ui.Name, ui.Spec.KubeConfig.SecretRef.Name = "userinfo-"+down.name, down.name+"-userinfo"
		multiClusterCreate(t, c, ui)
		multiClusterPoll(t, 60*time.Second, ui.Name+" forbidden", func(ctx context.Context) (bool, error) {
			if err := c.Get(ctx, client.ObjectKeyFromObject(ui), ui); err != nil {
				return false, err
			}
			r := apimeta.FindStatusCondition(ui.Status.Conditions, meta.ReadyCondition)
			return r != nil && strings.Contains(r.Message, "forbidden"), nil
		})
		if err := down.env.StopAPIServer(); err != nil {
			t.Fatal(err)
		}
		stopped, restarted := time.Now(), false
		// When the test fails while the remote is away, it comes back
		// before the cleanup deletes (prunes, uninstalls) on it.
		t.Cleanup(func() {
			if !restarted {
				if err := down.env.StartAPIServer(ctx); err != nil {
					t.Errorf("restarting %s: %v", down.name, err)
				}
			}
		})
		var kMsg, hMsg, uiMsg string
		multiClusterPoll(t, 60*time.Second, down.name+"'s Kustomization and HelmRelease not Ready", func(ctx context.Context) (bool, error) {
			multiClusterOthersReady(ctx, t, c, others)
			// A reconciliation under way while the API server shut down
			// may report another error first; the next retry meets the
			// refused connection.
			k, h := multiClusterReady(ctx, t, c, down.name)
			if k.Status == metav1.ConditionFalse {
				kMsg = k.Message
			}
			if h.Status == metav1.ConditionFalse {
				hMsg = h.Message
			}
			if err := c.Get(ctx, client.ObjectKeyFromObject(ui), ui); err != nil {
				return false, err
			}
			uiMsg = ""
			if r := apimeta.FindStatusCondition(ui.Status.Conditions, meta.ReadyCondition); r != nil {
				uiMsg = r.Message
			}
			return strings.Contains(kMsg, "connection refused") && strings.Contains(hMsg, "connection refused") &&
				strings.Contains(uiMsg, "connection refused"), nil
		}, func() string { return fmt.Sprintf("last messages %q, %q, %q", kMsg, hMsg, uiMsg) })
		t.Logf("Kustomization with a password in its server URL: %s", uiMsg)
		if strings.Contains(uiMsg, multiClusterURLPassword) {
			t.Errorf("the message shows the password of the kubeconfig's server URL: %q", uiMsg)
		}
		multiClusterNoCredentials(t, uiMsg, remotes)
		t.Logf("Kustomization: %s", kMsg)
		t.Logf("HelmRelease: %s", hMsg)
		t.Logf("the lost remote was reported %s after its API server stopped", time.Since(stopped).Round(time.Millisecond))
		host := strings.TrimPrefix(down.env.Config.Host, "https://")
		for what, msg := range map[string]string{"Kustomization": kMsg, "HelmRelease": hMsg} {
			if !strings.Contains(msg, host) || !strings.Contains(msg, "connection refused") {
				t.Errorf("%s message %q does not say that %s refused the connection", what, msg, host)
			}
			multiClusterNoCredentials(t, msg, remotes)
		}
		// Both keep failing while the remote is away, and nothing else
		// changes.
		for range 3 {
			time.Sleep(multiClusterRetry)
			multiClusterOthersReady(ctx, t, c, others)
			k, h := multiClusterReady(ctx, t, c, down.name)
			if k.Status == metav1.ConditionTrue || h.Status == metav1.ConditionTrue {
				t.Errorf("%s Ready while its API server is stopped: %s / %s", down.name, k.Message, h.Message)
			}
		}

		back := time.Now()
		if err := down.env.StartAPIServer(ctx); err != nil {
			t.Fatal(err)
		}
		restarted = true
		t.Logf("%s's API server ready again after %s", down.name, time.Since(back).Round(time.Millisecond))
		// Both retry every multiClusterRetry on their own: 25 seconds is
		// ample, and shorter than the HelmRelease controller's default
		// retry interval (30 s) that applies when RetryOnFailure's
		// interval is ignored.
		var k, h metav1.Condition
		multiClusterPoll(t, 25*time.Second, down.name+"'s Kustomization and HelmRelease Ready again", func(ctx context.Context) (bool, error) {
			multiClusterOthersReady(ctx, t, c, others)
			k, h = multiClusterReady(ctx, t, c, down.name)
			return k.Status == metav1.ConditionTrue && h.Status == metav1.ConditionTrue, nil
		}, func() string { return fmt.Sprintf("Ready %s %q and %s %q", k.Status, k.Message, h.Status, h.Message) })
		t.Logf("%s converged %s after its API server was started again (retryInterval %s, interval %s)",
			down.name, time.Since(back).Round(time.Millisecond), multiClusterRetry, multiClusterInterval)
		multiClusterCheckRemote(t, down)
		multiClusterOthersReady(ctx, t, c, others)
		multiClusterCheckManagement(t, c)
	})
	t.Logf("TestMultiCluster before cleanup: %s", time.Since(begin).Round(time.Millisecond))
}

// multiClusterClient is a client of the management cluster that knows
// Flux's kinds.
func multiClusterClient(t *testing.T) client.Client {
	t.Helper()
	scheme, err := fluxscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func multiClusterCreate(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

// multiClusterPoll polls cond until it holds, failing the test after
// timeout with what and, when given, what detail says then.
func multiClusterPoll(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error), detail ...func() string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, cond); err != nil {
		for _, d := range detail {
			what += "; " + d()
		}
		t.Fatalf("%s: %v", what, err)
	}
}

// multiClusterConfigMap is a labelled ConfigMap saying which cluster it is
// meant for.
func multiClusterConfigMap(name, cluster string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  labels:\n    %s: \"true\"\ndata:\n  cluster: %s\n",
		name, multiClusterLabel, cluster)
}

// multiClusterRemoteRBAC creates the target namespace on a remote and
// grants the management cluster's service accounts deployer (ConfigMaps)
// and helm (ConfigMaps and the release storage Secrets) what they need
// there, and nothing else.
func multiClusterRemoteRBAC(t *testing.T, r *multiClusterRemote) {
	t.Helper()
	rc := r.env.Client
	multiClusterCreate(t, rc, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: multiClusterTarget}})
	// The least each needs: server-side apply (dry-run, then for real,
	// creating), reads and pruning for the Kustomization; Helm's release
	// storage (Secrets) and its resources for the HelmRelease, which it
	// also lists and watches while it waits (without list and watch on
	// ConfigMaps the release does not fail: it waits, over two minutes
	// when tried, up to its timeout).
	for sa, rules := range map[string][]rbacv1.PolicyRule{
		"deployer": {{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "create", "patch", "delete"}}},
		"helm": {
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "create", "update", "delete"}},
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "patch", "update", "delete"}},
		},
	} {
		multiClusterCreate(t, rc, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: multiClusterTarget},
			Rules:      rules,
		})
		multiClusterCreate(t, rc, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: multiClusterTarget},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: sa},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: multiClusterNamespace}},
		})
	}
}

// multiClusterKustomization applies path of the fleet repository to the
// remote named cluster as serviceAccount.
func multiClusterKustomization(cluster, path, serviceAccount string) *kustomizev1.Kustomization {
	return &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "apps-" + cluster, Namespace: multiClusterNamespace},
		Spec: kustomizev1.KustomizationSpec{
			Interval:           metav1.Duration{Duration: multiClusterInterval},
			RetryInterval:      &metav1.Duration{Duration: multiClusterRetry},
			Timeout:            &metav1.Duration{Duration: 20 * time.Second},
			Path:               path,
			Prune:              true,
			TargetNamespace:    multiClusterTarget,
			SourceRef:          kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"},
			KubeConfig:         &meta.KubeConfigReference{SecretRef: &meta.SecretKeyReference{Name: cluster + "-kubeconfig"}},
			ServiceAccountName: serviceAccount,
			PostBuild:          &kustomizev1.PostBuild{Substitute: map[string]string{"cluster": cluster}},
		},
	}
}

// multiClusterHelmRelease installs the cm chart into the remote named
// cluster as the helm service account, storing the release there.
func multiClusterHelmRelease(t *testing.T, cluster string) *helmv2.HelmRelease {
	t.Helper()
	values, err := json.Marshal(map[string]any{"cluster": cluster})
	if err != nil {
		t.Fatal(err)
	}
	retry := &metav1.Duration{Duration: multiClusterRetry}
	return &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "app-" + cluster, Namespace: multiClusterNamespace},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: multiClusterInterval},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart: "cm", Version: "0.1.0",
				SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
			}},
			ReleaseName:        "app",
			TargetNamespace:    multiClusterTarget,
			StorageNamespace:   multiClusterTarget,
			KubeConfig:         &meta.KubeConfigReference{SecretRef: &meta.SecretKeyReference{Name: cluster + "-kubeconfig"}},
			ServiceAccountName: "helm",
			Install:            &helmv2.Install{Strategy: &helmv2.InstallStrategy{Name: "RetryOnFailure", RetryInterval: retry}},
			Upgrade:            &helmv2.Upgrade{Strategy: &helmv2.UpgradeStrategy{Name: "RetryOnFailure", RetryInterval: retry}},
			Values:             &apiextensionsv1.JSON{Raw: values},
		},
	}
}

func multiClusterWaitKustomization(t *testing.T, c client.Client, cluster, rev string) {
	t.Helper()
	var last *metav1.Condition
	multiClusterPoll(t, 120*time.Second, "Kustomization apps-"+cluster+" Ready at "+rev, func(ctx context.Context) (bool, error) {
		var k kustomizev1.Kustomization
		if err := c.Get(ctx, client.ObjectKey{Namespace: multiClusterNamespace, Name: "apps-" + cluster}, &k); err != nil {
			return false, err
		}
		last = apimeta.FindStatusCondition(k.Status.Conditions, meta.ReadyCondition)
		return last != nil && last.Status == metav1.ConditionTrue && k.Status.ObservedGeneration == k.Generation && k.Status.LastAppliedRevision == rev, nil
	}, func() string { return fmt.Sprintf("last Ready condition %+v", last) })
}

func multiClusterWaitHelmRelease(t *testing.T, c client.Client, cluster string) {
	t.Helper()
	var ready *metav1.Condition
	multiClusterPoll(t, 120*time.Second, "HelmRelease app-"+cluster+" Ready", func(ctx context.Context) (bool, error) {
		var h helmv2.HelmRelease
		if err := c.Get(ctx, client.ObjectKey{Namespace: multiClusterNamespace, Name: "app-" + cluster}, &h); err != nil {
			return false, err
		}
		ready = apimeta.FindStatusCondition(h.Status.Conditions, meta.ReadyCondition)
		return ready != nil && ready.Status == metav1.ConditionTrue && h.Status.ObservedGeneration == h.Generation, nil
	}, func() string { return fmt.Sprintf("last Ready condition %+v", ready) })
}

// multiClusterReady returns the Ready conditions of cluster's
// Kustomization and HelmRelease (zero when absent).
func multiClusterReady(ctx context.Context, t *testing.T, c client.Client, cluster string) (k, h metav1.Condition) {
	t.Helper()
	var ko kustomizev1.Kustomization
	if err := c.Get(ctx, client.ObjectKey{Namespace: multiClusterNamespace, Name: "apps-" + cluster}, &ko); err != nil {
		t.Errorf("Kustomization apps-%s: %v", cluster, err)
	} else if r := apimeta.FindStatusCondition(ko.Status.Conditions, meta.ReadyCondition); r != nil {
		k = *r
	}
	var ho helmv2.HelmRelease
	if err := c.Get(ctx, client.ObjectKey{Namespace: multiClusterNamespace, Name: "app-" + cluster}, &ho); err != nil {
		t.Errorf("HelmRelease app-%s: %v", cluster, err)
	} else if r := apimeta.FindStatusCondition(ho.Status.Conditions, meta.ReadyCondition); r != nil {
		h = *r
	}
	return k, h
}

// multiClusterConditions returns the status conditions of a Kustomization
// or HelmRelease.
func multiClusterConditions(obj client.Object) []metav1.Condition {
	switch o := obj.(type) {
	case *kustomizev1.Kustomization:
		return o.Status.Conditions
	case *helmv2.HelmRelease:
		return o.Status.Conditions
	}
	return nil
}

// multiClusterOthersReady fails the test when an object of the remotes
// that stay up is not Ready.
func multiClusterOthersReady(ctx context.Context, t *testing.T, c client.Client, others []*multiClusterRemote) {
	t.Helper()
	for _, r := range others {
		k, h := multiClusterReady(ctx, t, c, r.name)
		if k.Status != metav1.ConditionTrue {
			t.Errorf("Kustomization apps-%s not Ready while another remote is away: %s %s", r.name, k.Reason, k.Message)
		}
		if h.Status != metav1.ConditionTrue {
			t.Errorf("HelmRelease app-%s not Ready while another remote is away: %s %s", r.name, h.Reason, h.Message)
		}
	}
}

// multiClusterCheckRemote checks that the remote holds exactly its own
// objects: the Kustomization's and the chart's ConfigMaps, saying its name,
// and one release storage Secret.
func multiClusterCheckRemote(t *testing.T, r *multiClusterRemote) {
	t.Helper()
	ctx := context.Background()
	var cms corev1.ConfigMapList
	if err := r.env.Client.List(ctx, &cms, client.HasLabels{multiClusterLabel}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, cm := range cms.Items {
		got[cm.Namespace+"/"+cm.Name] = cm.Data["cluster"]
	}
	want := map[string]string{multiClusterTarget + "/fleet": r.name, multiClusterTarget + "/app": r.name}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s holds ConfigMaps %v, want %v", r.name, got, want)
	}
	var secrets corev1.SecretList
	if err := r.env.Client.List(ctx, &secrets, client.MatchingLabels{"owner": "helm"}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range secrets.Items {
		names = append(names, s.Namespace+"/"+s.Name)
	}
	if w := multiClusterTarget + "/sh.helm.release.v1.app.v1"; len(names) != 1 || names[0] != w {
		t.Errorf("%s holds Helm release Secrets %v, want [%s]", r.name, names, w)
	}
}

// multiClusterCheckManagement checks that nothing meant for a remote
// landed on the management cluster.
func multiClusterCheckManagement(t *testing.T, c client.Client) {
	t.Helper()
	ctx := context.Background()
	var cms corev1.ConfigMapList
	if err := c.List(ctx, &cms, client.HasLabels{multiClusterLabel}); err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		t.Errorf("ConfigMap %s/%s landed on the management cluster", cm.Namespace, cm.Name)
	}
	var secrets corev1.SecretList
	if err := c.List(ctx, &secrets, client.InNamespace(multiClusterNamespace), client.MatchingLabels{"owner": "helm"}); err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		t.Errorf("Helm release Secret %s/%s landed on the management cluster", s.Namespace, s.Name)
	}
	var ns corev1.Namespace
	if err := c.Get(ctx, client.ObjectKey{Name: multiClusterTarget}, &ns); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s on the management cluster: %v, want not found", multiClusterTarget, err)
	}
}

// multiClusterURLPassword is the password in a kubeconfig's server URL.
const multiClusterURLPassword = "s3cr3t-in-url"

// multiClusterUserinfoKubeconfig returns kubeconfig with user and password
// in its clusters' server URLs.
func multiClusterUserinfoKubeconfig(t *testing.T, kubeconfig []byte, user, password string) []byte {
	t.Helper()
	cfg, err := clientcmd.Load(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, cl := range cfg.Clusters {
		cl.Server = strings.Replace(cl.Server, "https://", "https://"+user+":"+password+"@", 1)
	}
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// userinfoURL matches the userinfo of a URL; its first group is the
// user, the second the password, if any.
var userinfoURL = regexp.MustCompile(`[a-z]+://([^/\s"'@:]*)(:[^/\s"'@]*)?@`)

// multiClusterURLCredential returns the first URL in msg that carries
// user information (a user name, a password, masked or not), or "".
func multiClusterURLCredential(msg string) string {
	if m := userinfoURL.FindString(msg); m != "" {
		return m
	}
	return ""
}

// multiClusterNoCredentials fails the test when msg holds any part of the
// remotes' kubeconfig credentials.
func multiClusterNoCredentials(t *testing.T, msg string, remotes []*multiClusterRemote) {
	t.Helper()
	if multiClusterURLCredential(msg) != "" || strings.Contains(msg, "BEGIN") {
		t.Errorf("message holds a credential: %q", msg)
	}
	for _, r := range remotes {
		cfg, err := clientcmd.Load(r.kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		for name, u := range cfg.AuthInfos {
			for _, secret := range [][]byte{u.ClientKeyData, u.ClientCertificateData, []byte(u.Token), []byte(u.Password)} {
				if len(secret) >= 32 && strings.Contains(msg, string(secret[len(secret)/2:len(secret)/2+16])) {
					t.Errorf("message holds part of user %s's credentials of %s: %q", name, r.name, msg)
				}
			}
		}
	}
}

// multiClusterDeleteAll deletes the test's Kustomizations and HelmReleases,
// then its sources, and waits until their finalizers are done, so that no
// later test's controllers reconcile them against remotes and servers that
// are gone.
func multiClusterDeleteAll(t *testing.T, c client.Client) {
	t.Helper()
	for _, kinds := range [][]client.ObjectList{
		{&kustomizev1.KustomizationList{}, &helmv2.HelmReleaseList{}},
		{&sourcev1.GitRepositoryList{}, &sourcev1.HelmRepositoryList{}, &sourcev1.HelmChartList{}},
	} {
		for _, list := range kinds {
			if err := c.List(context.Background(), list, client.InNamespace(multiClusterNamespace)); err != nil {
				t.Fatal(err)
			}
			if err := apimeta.EachListItem(list, func(o runtime.Object) error {
				return client.IgnoreNotFound(c.Delete(context.Background(), o.(client.Object)))
			}); err != nil {
				t.Errorf("deleting %T: %v", list, err)
			}
		}
		multiClusterPoll(t, 120*time.Second, "the test's objects deleted", func(ctx context.Context) (bool, error) {
			for _, list := range kinds {
				if err := c.List(ctx, list, client.InNamespace(multiClusterNamespace)); err != nil {
					return false, err
				}
				if apimeta.LenList(list) > 0 {
					return false, nil
				}
			}
			return true, nil
		})
	}
}
