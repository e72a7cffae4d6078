package testenv_test

import (
	"context"
	"slices"
	"testing"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, sourcev1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	testenv.Main(m, testenv.Options{FluxCRDs: true, Scheme: scheme}, &env)
}

func poll(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func namespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
}

func TestDeploymentPodsScheduledAndReady(t *testing.T) {
	ctx := context.Background()
	namespace(t, "deploy")
	replicas := int32(3)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "deploy"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
			},
		},
	}
	if err := env.Client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	poll(t, 60*time.Second, "deployment available with 3 ready replicas", func(ctx context.Context) (bool, error) {
		var got appsv1.Deployment
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(d), &got); err != nil {
			return false, err
		}
		return got.Status.ObservedGeneration == got.Generation && got.Status.ReadyReplicas == 3 && got.Status.AvailableReplicas == 3, nil
	})
	var rs appsv1.ReplicaSetList
	if err := env.Client.List(ctx, &rs, client.InNamespace("deploy")); err != nil {
		t.Fatal(err)
	}
	if len(rs.Items) != 1 {
		t.Fatalf("want 1 ReplicaSet created by the deployment controller, got %d", len(rs.Items))
	}
	// The scheduler bound each Pod to a fake node and kwok made it Ready.
	var pods corev1.PodList
	if err := env.Client.List(ctx, &pods, client.InNamespace("deploy")); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 3 {
		t.Fatalf("want 3 Pods, got %d", len(pods.Items))
	}
	for _, p := range pods.Items {
		if !slices.Contains(env.Nodes, p.Spec.NodeName) || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || !podReady(&p) {
			t.Errorf("Pod %s: node %q phase %s IP %q ready %v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.PodIP, podReady(&p))
		}
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func TestFakeNodesReady(t *testing.T) {
	var nodes corev1.NodeList
	if err := env.Client.List(context.Background(), &nodes); err != nil {
		t.Fatal(err)
	}
	if len(env.Nodes) != 3 || len(nodes.Items) != len(env.Nodes) {
		t.Fatalf("want 3 fake nodes, Env.Nodes=%v, cluster has %d", env.Nodes, len(nodes.Items))
	}
	for _, n := range nodes.Items {
		ready := false
		for _, c := range n.Status.Conditions {
			ready = ready || c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
		}
		if !ready || n.Annotations[testenv.NodeAnnotation] != "fake" || n.Status.Allocatable.Pods().IsZero() {
			t.Errorf("node %s: ready %v annotations %v allocatable %v", n.Name, ready, n.Annotations, n.Status.Allocatable)
		}
	}
}

func job(ns, name string, annotations map[string]string) *batchv1.Job {
	zero := int32(0)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batchv1.JobSpec{
			BackoffLimit: &zero,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Annotations: annotations},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "run", Image: "busybox", Command: []string{"true"}}},
				},
			},
		},
	}
}

// jobCondition waits for the Job to reach a terminal condition and returns it.
func jobCondition(t *testing.T, j *batchv1.Job) batchv1.JobCondition {
	t.Helper()
	var cond batchv1.JobCondition
	poll(t, 60*time.Second, "Job "+j.Name+" finished", func(ctx context.Context) (bool, error) {
		var got batchv1.Job
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(j), &got); err != nil {
			return false, err
		}
		for _, c := range got.Status.Conditions {
			if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
				cond = c
				return true, nil
			}
		}
		return false, nil
	})
	return cond
}

func jobPod(t *testing.T, j *batchv1.Job) corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := env.Client.List(context.Background(), &pods, client.InNamespace(j.Namespace), client.MatchingLabels{"batch.kubernetes.io/job-name": j.Name}); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 {
		t.Fatalf("Job %s: want 1 Pod, got %d", j.Name, len(pods.Items))
	}
	return pods.Items[0]
}

func TestJobPodsSucceedOrFailOnRequest(t *testing.T) {
	namespace(t, "jobs")
	ok := job("jobs", "ok", nil)
	bad := job("jobs", "bad", map[string]string{testenv.FailAnnotation: "migration failed: table locked"})
	for _, j := range []*batchv1.Job{ok, bad} {
		if err := env.Client.Create(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
	if c := jobCondition(t, ok); c.Type != batchv1.JobComplete {
		t.Errorf("Job ok: %s %s: %s", c.Type, c.Reason, c.Message)
	}
	if p := jobPod(t, ok); p.Status.Phase != corev1.PodSucceeded {
		t.Errorf("Job ok's Pod is %s", p.Status.Phase)
	}
	c := jobCondition(t, bad)
	if c.Type != batchv1.JobFailed || c.Reason != batchv1.JobReasonBackoffLimitExceeded {
		t.Errorf("Job bad: %s %s: %s", c.Type, c.Reason, c.Message)
	}
	p := jobPod(t, bad)
	if p.Status.Phase != corev1.PodFailed || len(p.Status.ContainerStatuses) != 1 {
		t.Fatalf("Job bad's Pod: %s %+v", p.Status.Phase, p.Status.ContainerStatuses)
	}
	term := p.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.ExitCode != 1 || term.Message != "migration failed: table locked" {
		t.Errorf("Job bad's container: %+v", p.Status.ContainerStatuses[0].State)
	}
}

func TestBarePodsRunForAndCrashLoop(t *testing.T) {
	ctx := context.Background()
	namespace(t, "pods")
	pod := func(name string, policy corev1.RestartPolicy, ann map[string]string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "pods", Annotations: ann},
			Spec: corev1.PodSpec{
				RestartPolicy: policy,
				Containers:    []corev1.Container{{Name: "c", Image: "busybox"}},
			},
		}
	}
	hook := pod("hook", corev1.RestartPolicyNever, map[string]string{testenv.RunForAnnotation: "4s"})
	crash := pod("crash", corev1.RestartPolicyAlways, map[string]string{testenv.FailAnnotation: "boom"})
	server := pod("server", corev1.RestartPolicyAlways, nil)
	for _, p := range []*corev1.Pod{hook, crash, server} {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	get := func(p *corev1.Pod) *corev1.Pod {
		var got corev1.Pod
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(p), &got); err != nil {
			t.Fatal(err)
		}
		return &got
	}
	poll(t, 30*time.Second, "hook Pod running", func(context.Context) (bool, error) {
		return get(hook).Status.Phase == corev1.PodRunning, nil
	})
	started := time.Now()
	poll(t, 30*time.Second, "hook Pod succeeded", func(context.Context) (bool, error) {
		return get(hook).Status.Phase == corev1.PodSucceeded, nil
	})
	if d := time.Since(started); d < 2*time.Second {
		t.Errorf("hook Pod with run-for 4s ran for only %v", d)
	}
	poll(t, 30*time.Second, "crash Pod crash-looping", func(context.Context) (bool, error) {
		p := get(crash)
		if p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) != 1 {
			return false, nil
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "CrashLoopBackOff" && !podReady(p), nil
	})
	// A server Pod keeps running.
	if p := get(server); p.Status.Phase != corev1.PodRunning || !podReady(p) {
		t.Errorf("server Pod: %s ready %v", p.Status.Phase, podReady(p))
	}
}

func TestNamespaceDeletionRemovesObjects(t *testing.T) {
	ctx := context.Background()
	namespace(t, "doomed")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "doomed"}, Data: map[string]string{"a": "b"}}
	if err := env.Client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	two := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "doomed"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &two,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
			},
		},
	}
	if err := env.Client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	long := job("doomed", "long", map[string]string{testenv.RunForAnnotation: "10m"})
	if err := env.Client.Create(ctx, long); err != nil {
		t.Fatal(err)
	}
	poll(t, 60*time.Second, "3 running Pods", func(ctx context.Context) (bool, error) {
		var pods corev1.PodList
		if err := env.Client.List(ctx, &pods, client.InNamespace("doomed")); err != nil {
			return false, err
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		return running == 3, nil
	})
	if err := env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed"}}); err != nil {
		t.Fatal(err)
	}
	poll(t, 60*time.Second, "namespace finalized", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Name: "doomed"}, &corev1.Namespace{})
		return apierrors.IsNotFound(err), nil
	})
	err := env.Client.Get(ctx, client.ObjectKeyFromObject(cm), &corev1.ConfigMap{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("ConfigMap still present after namespace deletion: %v", err)
	}
}

func TestServiceAccountTokenIssued(t *testing.T) {
	ctx := context.Background()
	namespace(t, "tokens")
	// The service-account controller creates "default" in every namespace.
	poll(t, 30*time.Second, "default service account", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: "tokens", Name: "default"}, &corev1.ServiceAccount{})
		return err == nil, nil
	})
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "default-token", Namespace: "tokens",
			Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}},
		Type: corev1.SecretTypeServiceAccountToken,
	}
	if err := env.Client.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "token populated by the token controller", func(ctx context.Context) (bool, error) {
		var got corev1.Secret
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(sec), &got); err != nil {
			return false, err
		}
		return len(got.Data[corev1.ServiceAccountTokenKey]) > 0, nil
	})
}

func TestFluxCRDsEstablished(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{
		"gitrepositories.source.toolkit.fluxcd.io",
		"ocirepositories.source.toolkit.fluxcd.io",
		"helmrepositories.source.toolkit.fluxcd.io",
		"buckets.source.toolkit.fluxcd.io",
		"kustomizations.kustomize.toolkit.fluxcd.io",
		"helmreleases.helm.toolkit.fluxcd.io",
		"alerts.notification.toolkit.fluxcd.io",
		"helmcharts.source.toolkit.fluxcd.io",
		"imagerepositories.image.toolkit.fluxcd.io",
		"imagepolicies.image.toolkit.fluxcd.io",
		"imageupdateautomations.image.toolkit.fluxcd.io",
	} {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		established := false
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				established = true
			}
		}
		if !established {
			t.Errorf("%s is not Established", name)
		}
	}

	namespace(t, "flux-system")
	repo := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "podinfo", Namespace: "flux-system"},
		Spec: sourcev1.GitRepositorySpec{
			URL:       "https://example.com/org/podinfo",
			Interval:  metav1.Duration{Duration: time.Minute},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
		},
	}
	if err := env.Client.Create(ctx, repo); err != nil {
		t.Fatal(err)
	}
	var got sourcev1.GitRepository
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(repo), &got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.URL != repo.Spec.URL || got.Spec.Reference == nil || got.Spec.Reference.Branch != "main" || got.Spec.Interval.Duration != time.Minute {
		t.Fatalf("GitRepository did not round-trip: %+v", got.Spec)
	}
	// The CRD's schema rejects an invalid URL scheme.
	bad := repo.DeepCopy()
	bad.ObjectMeta = metav1.ObjectMeta{Name: "bad", Namespace: "flux-system"}
	bad.Spec.URL = "ftp://example.com/repo"
	if err := env.Client.Create(ctx, bad); !apierrors.IsInvalid(err) {
		t.Fatalf("want an Invalid error for an ftp URL, got %v", err)
	}
}
