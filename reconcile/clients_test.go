package reconcile_test

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/gitopskit/gitopskit/reconcile"
)

const execKubeConfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://remote.example:6443"}}]
users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/steal}}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`

func TestClients(t *testing.T) {
	ctx := context.Background()
	reader := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "remote"}, Data: map[string][]byte{"value": []byte(execKubeConfig)}},
	).Build()
	cs := &reconcile.Clients{Config: &rest.Config{Host: "https://127.0.0.1:1"}, Reader: reader, Scheme: scheme.Scheme}

	own1, err := cs.For(ctx, "apps", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	own2, err := cs.For(ctx, "apps", "", nil)
	if err != nil || own1 != own2 {
		t.Errorf("the controller's own client is not shared: %p, %p, %v", own1, own2, err)
	}
	sa, err := cs.For(ctx, "apps", "deployer", nil)
	if err != nil || sa == own1 {
		t.Errorf("service account client = %p (own %p), %v; want a client of its own", sa, own1, err)
	}
	if _, err := cs.For(ctx, "apps", "Not A Name", nil); err == nil {
		t.Error("invalid service account name: want an error")
	}
	if _, err := cs.For(ctx, "apps", "", &reconcile.KubeConfigRef{SecretName: "missing"}); err == nil {
		t.Error("missing kubeconfig Secret: want an error")
	}
	if _, err := cs.For(ctx, "apps", "", &reconcile.KubeConfigRef{SecretName: "remote"}); !errors.Is(err, reconcile.ErrExecNotAllowed) {
		t.Errorf("kubeconfig with an exec plugin = %v, want ErrExecNotAllowed", err)
	}
}
