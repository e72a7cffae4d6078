package testenv_test

import (
	"context"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/internal/testenv"
)

// TestAPIServerStopAndStart starts a cheap extra cluster (etcd and
// kube-apiserver only), stops its API server and starts it again twice:
// the data, the address and the credentials survive, and clients fail in
// between.
func TestAPIServerStopAndStart(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	e, err := testenv.Start(ctx, testenv.Options{NoControllerManager: true, NoNodes: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("etcd + kube-apiserver started in %s", time.Since(start).Round(time.Millisecond))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = e.Stop()
		}
	})
	if len(e.Nodes) != 0 {
		t.Errorf("nodes %v without kwok", e.Nodes)
	}
	kubeconfig, err := os.ReadFile(e.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "survivor", Namespace: "default"}, Data: map[string]string{"k": "v"}}
	if err := e.Client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if err := e.StartAPIServer(ctx); err == nil {
		t.Error("StartAPIServer on a running API server succeeded")
	}
	for round := 1; round <= 2; round++ {
		t0 := time.Now()
		if err := e.StopAPIServer(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		t.Logf("round %d: kube-apiserver stopped in %s", round, time.Since(t0).Round(time.Millisecond))
		if err := e.StopAPIServer(); err == nil {
			t.Errorf("round %d: a second StopAPIServer succeeded", round)
		}
		err := e.Client.Get(ctx, client.ObjectKeyFromObject(cm), &corev1.ConfigMap{})
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("round %d: Get with the API server stopped = %v, want connection refused", round, err)
		}
		t0 = time.Now()
		if err := e.StartAPIServer(ctx); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		t.Logf("round %d: kube-apiserver ready again in %s", round, time.Since(t0).Round(time.Millisecond))
		var got corev1.ConfigMap
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(cm), &got); err != nil {
			t.Fatalf("round %d: the same client after the restart: %v", round, err)
		}
		if got.Data["k"] != "v" {
			t.Errorf("round %d: data after the restart = %v", round, got.Data)
		}
		after, err := os.ReadFile(e.KubeconfigPath)
		if err != nil {
			t.Fatal(err)
		}
		if string(after) != string(kubeconfig) {
			t.Errorf("round %d: the kubeconfig changed", round)
		}
	}
	// Stop ends the restarted API server too: nothing is left listening.
	u, err := url.Parse(e.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	stopped = true
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Stop", u.Host)
	}
}

// TestAPIServerRestartKeepsControllers restarts the package's full control
// plane: kube-controller-manager, kube-scheduler and kwok carry on, so a
// Deployment created afterwards becomes available.
func TestAPIServerRestartKeepsControllers(t *testing.T) {
	ctx := context.Background()
	t0 := time.Now()
	if err := env.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver stopped in %s", time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	if err := env.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver ready again in %s", time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	namespace(t, "restarted")
	replicas := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "restarted"},
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
	poll(t, 120*time.Second, "deployment available after the API server restart", func(ctx context.Context) (bool, error) {
		var got appsv1.Deployment
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(d), &got); err != nil {
			return false, err
		}
		return got.Status.ObservedGeneration == got.Generation && got.Status.AvailableReplicas == 2, nil
	})
	t.Logf("deployment available %s later", time.Since(t0).Round(time.Millisecond))
}
