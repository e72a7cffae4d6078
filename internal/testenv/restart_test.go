package testenv_test

import (
	"context"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

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
