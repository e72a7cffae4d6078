package notification_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	notifyv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/notify/receiver"
)

// A Receiver whose Secret is missing is not Ready (TokenNotFound), serves no
// path, and becomes Ready once the Secret exists and the Receiver is asked
// to reconcile.
func TestReceiverTokenNotFound(t *testing.T) {
	ctx := context.Background()
	const ns = "receiver-token"
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	create(t, &notifyv1.Receiver{ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns},
		Spec: notifyv1.ReceiverSpec{Type: "generic", SecretRef: &meta.LocalObjectReference{Name: "missing"},
			Resources: []notifyv1.ReceiverResource{{CrossNamespaceObjectReference: notifyv1.CrossNamespaceObjectReference{
				Kind: "GitRepository", Name: "fleet"}}}}})
	key := client.ObjectKey{Namespace: ns, Name: "hook"}
	var rcv notifyv1.Receiver
	poll(t, 60*time.Second, "Receiver Ready=False TokenNotFound", func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, key, &rcv); err != nil {
			return false, err
		}
		c := apimeta.FindStatusCondition(rcv.Status.Conditions, meta.ReadyCondition)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == notifyv1.TokenNotFoundReason, nil
	})
	if rcv.Status.WebhookPath != "" {
		t.Errorf("webhookPath = %q before the token exists", rcv.Status.WebhookPath)
	}
	path := receiver.WebhookPath("t0ken", "hook", ns)
	resp, err := http.Post(servers.ReceiverURL+path, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unpublished path: status %d, want 404", resp.StatusCode)
	}

	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "missing", Namespace: ns}, StringData: map[string]string{"token": "t0ken"}})
	patch := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"now"}}}`))
	if err := env.Client.Patch(ctx, &rcv, patch); err != nil {
		t.Fatal(err)
	}
	poll(t, 60*time.Second, "Receiver Ready", func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, key, &rcv); err != nil {
			return false, err
		}
		return apimeta.IsStatusConditionTrue(rcv.Status.Conditions, meta.ReadyCondition), nil
	})
	if rcv.Status.WebhookPath != path || rcv.Status.LastHandledReconcileAt != "now" {
		t.Errorf("webhookPath = %q, lastHandledReconcileAt = %q; want %q, now", rcv.Status.WebhookPath, rcv.Status.LastHandledReconcileAt, path)
	}
}
