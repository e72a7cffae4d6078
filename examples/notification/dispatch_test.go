package notification_test

import (
	"context"
	"strings"
	"testing"
	"time"

	notifyv1 "github.com/fluxcd/notification-controller/api/v1"
	notifyv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/notification"
	"github.com/gitopskit/gitopskit/notify"
)

// An Alert whose Provider does not exist is reported as Flux does: a
// Warning Event with reason InvalidConfig on the Alert.
func TestAlertWithoutProvider(t *testing.T) {
	const ns = "alert-no-provider"
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	create(t, &notifyv1beta3.Alert{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: ns},
		Spec: notifyv1beta3.AlertSpec{ProviderRef: meta.LocalObjectReference{Name: "absent"},
			EventSources: []notifyv1.CrossNamespaceObjectReference{{Kind: "Kustomization", Name: "*"}}}})
	rec, err := notify.NewHTTPRecorder(servers.EventURL, notify.WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	e := notify.Event{
		InvolvedObject:      notify.ObjectReference{Kind: "Kustomization", APIVersion: "kustomize.toolkit.fluxcd.io/v1", Namespace: ns, Name: "app"},
		Severity:            notify.SeverityError,
		Reason:              "HealthCheckFailed",
		Message:             "timeout waiting for Deployment/app",
		ReportingController: "kustomize-controller",
	}
	// The event is sent again until the Event appears: the first may
	// reach the server before its cache has seen the new Alert.
	poll(t, 60*time.Second, "InvalidConfig Event on the Alert", func(ctx context.Context) (bool, error) {
		var list eventsv1.EventList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, ev := range list.Items {
			if ev.Regarding.Kind == "Alert" && ev.Regarding.Name == "orphan" && ev.Reason == notification.InvalidConfigReason &&
				ev.Type == corev1.EventTypeWarning && strings.Contains(ev.Note, `"absent"`) {
				return true, nil
			}
		}
		return false, rec.Record(ctx, e)
	})
}
