package testenv_test

import (
	"context"
	"testing"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
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

func TestDeploymentReconciledByControllerManager(t *testing.T) {
	ctx := context.Background()
	namespace(t, "deploy")
	zero := int32(0)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "deploy"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &zero,
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
	poll(t, 60*time.Second, "deployment observed by kube-controller-manager", func(ctx context.Context) (bool, error) {
		var got appsv1.Deployment
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(d), &got); err != nil {
			return false, err
		}
		return got.Generation > 0 && got.Status.ObservedGeneration == got.Generation, nil
	})
	var rs appsv1.ReplicaSetList
	if err := env.Client.List(ctx, &rs, client.InNamespace("deploy")); err != nil {
		t.Fatal(err)
	}
	if len(rs.Items) != 1 {
		t.Fatalf("want 1 ReplicaSet created by the deployment controller, got %d", len(rs.Items))
	}
}

func TestNamespaceDeletionRemovesObjects(t *testing.T) {
	ctx := context.Background()
	namespace(t, "doomed")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "doomed"}, Data: map[string]string{"a": "b"}}
	if err := env.Client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
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
