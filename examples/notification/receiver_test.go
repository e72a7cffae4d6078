package notification_test

import (
	"context"
	"net/http"
	"strings"
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
	// The new Secret alone reconciles the Receiver; the request may be
	// handled before or after.
	poll(t, 60*time.Second, "Receiver Ready with the request handled", func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, key, &rcv); err != nil {
			return false, err
		}
		return apimeta.IsStatusConditionTrue(rcv.Status.Conditions, meta.ReadyCondition) && rcv.Status.LastHandledReconcileAt == "now", nil
	})
	if rcv.Status.WebhookPath != path {
		t.Errorf("webhookPath = %q, want %q", rcv.Status.WebhookPath, path)
	}
}

// Rotating a Receiver's token, with no change to the Receiver, publishes
// the new path: it is served and the old one answers 404.
func TestReceiverTokenRotation(t *testing.T) {
	ctx := context.Background()
	const ns = "receiver-rotation"
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token", Namespace: ns}, StringData: map[string]string{"token": "first"}}
	create(t, secret)
	create(t, &notifyv1.Receiver{ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns},
		Spec: notifyv1.ReceiverSpec{Type: "generic", SecretRef: &meta.LocalObjectReference{Name: "token"},
			Resources: []notifyv1.ReceiverResource{{CrossNamespaceObjectReference: notifyv1.CrossNamespaceObjectReference{
				Kind: "GitRepository", Name: "absent"}}}}})
	key := client.ObjectKey{Namespace: ns, Name: "hook"}
	ready := func(path string) {
		t.Helper()
		poll(t, 60*time.Second, "Receiver Ready at "+path, func(ctx context.Context) (bool, error) {
			var rcv notifyv1.Receiver
			if err := env.Client.Get(ctx, key, &rcv); err != nil {
				return false, err
			}
			c := apimeta.FindStatusCondition(rcv.Status.Conditions, meta.ReadyCondition)
			return rcv.Status.WebhookPath == path && c != nil && c.Status == metav1.ConditionTrue &&
				c.Message == "Receiver initialized for path: "+path, nil
		})
	}
	status := func(path string) int {
		t.Helper()
		resp, err := http.Post(servers.ReceiverURL+path, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	oldPath, newPath := receiver.WebhookPath("first", "hook", ns), receiver.WebhookPath("second", "hook", ns)
	ready(oldPath)
	var rcv notifyv1.Receiver
	if err := env.Client.Get(ctx, key, &rcv); err != nil {
		t.Fatal(err)
	}
	generation := rcv.Generation

	secret.StringData = map[string]string{"token": "second"}
	if err := env.Client.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	ready(newPath)
	// The webhook server reads the published path from its cache: wait
	// until it serves the new one.
	poll(t, 60*time.Second, "new path served", func(context.Context) (bool, error) {
		return status(newPath) != http.StatusNotFound, nil
	})
	if code := status(oldPath); code != http.StatusNotFound {
		t.Errorf("old path after rotation: status %d, want 404", code)
	}
	if err := env.Client.Get(ctx, key, &rcv); err != nil {
		t.Fatal(err)
	}
	if rcv.Generation != generation {
		t.Errorf("generation %d -> %d: the Receiver's spec changed", generation, rcv.Generation)
	}
}
