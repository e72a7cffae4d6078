package notification_test

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
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

// A generic Provider pointing at a TLS sink with a self-signed certificate
// delivers only when its certSecretRef holds that CA ("ca.crt", or the
// legacy "caFile"); without it delivery fails, and a Secret that holds no
// certificate is an InvalidConfig Event naming the Secret, not its content.
func TestProviderCertSecretRef(t *testing.T) {
	ctx := context.Background()
	const ns = "provider-tls"
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	tlsSink := &sink{}
	srv := httptest.NewTLSServer(tlsSink)
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	const garbage = "not-a-certificate-3f9a"
	secrets := map[string]map[string][]byte{
		"sink-ca":   {"ca.crt": ca},
		"legacy-ca": {"caFile": ca},
		"bad-ca":    {"ca.crt": []byte(garbage)},
	}
	for name, data := range secrets {
		create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data})
	}
	for name, secret := range map[string]string{"good": "sink-ca", "legacy": "legacy-ca", "bad": "bad-ca", "none": ""} {
		spec := notifyv1beta3.ProviderSpec{Type: "generic", Address: srv.URL + "/" + name, Timeout: &metav1.Duration{Duration: 2 * time.Second}}
		if secret != "" {
			spec.CertSecretRef = &meta.LocalObjectReference{Name: secret}
		}
		create(t, &notifyv1beta3.Provider{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: spec})
		create(t, &notifyv1beta3.Alert{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: notifyv1beta3.AlertSpec{ProviderRef: meta.LocalObjectReference{Name: name}, EventSeverity: "info",
				EventSources: []notifyv1.CrossNamespaceObjectReference{{Kind: "Kustomization", Name: "*"}}}})
	}
	rec, err := notify.NewHTTPRecorder(servers.EventURL, notify.WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	// The controller may not see the new Alerts at once: post the event
	// again, worded anew so that it is not de-duplicated, until delivered.
	sent := 0
	// nudge records a new event every tenth call, so that an Alert the
	// dispatcher did not know yet when the last one came still gets one.
	nudge := func(ctx context.Context) error {
		if sent++; sent%10 != 1 {
			return nil
		}
		return rec.Record(ctx, notify.Event{
			InvolvedObject:      notify.ObjectReference{Kind: "Kustomization", APIVersion: "kustomize.toolkit.fluxcd.io/v1", Namespace: ns, Name: "app"},
			Severity:            notify.SeverityInfo,
			Reason:              "ReconciliationSucceeded",
			Message:             fmt.Sprintf("Applied revision: main@sha1:0123456789abcdef (%d)", sent),
			ReportingController: "kustomize-controller",
		})
	}
	for _, path := range []string{"/good", "/legacy"} {
		poll(t, 60*time.Second, "notification delivered at "+path, func(ctx context.Context) (bool, error) {
			if _, ok := tlsSink.find(func(r sinkRequest) bool { return r.path == path }); ok {
				return true, nil
			}
			return false, nudge(ctx)
		})
	}
	warning := func(alert, reason string) (eventsv1.Event, bool, error) {
		var list eventsv1.EventList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return eventsv1.Event{}, false, err
		}
		for _, ev := range list.Items {
			if ev.Regarding.Kind == "Alert" && ev.Regarding.Name == alert && ev.Reason == reason && ev.Type == corev1.EventTypeWarning {
				return ev, true, nil
			}
		}
		return eventsv1.Event{}, false, nil
	}
	var bad eventsv1.Event
	poll(t, 60*time.Second, "InvalidConfig Event on the Alert bad", func(ctx context.Context) (ok bool, err error) {
		if bad, ok, err = warning("bad", notification.InvalidConfigReason); ok || err != nil {
			return ok, err
		}
		return false, nudge(ctx)
	})
	if !strings.Contains(bad.Note, `"bad-ca"`) || strings.Contains(bad.Note, garbage) {
		t.Errorf("InvalidConfig note %q: want the Secret's name and not its content", bad.Note)
	}
	poll(t, 60*time.Second, "NotificationDispatchFailed Event on the Alert none", func(ctx context.Context) (ok bool, err error) {
		if _, ok, err = warning("none", notification.NotificationDispatchFailedReason); ok || err != nil {
			return ok, err
		}
		return false, nudge(ctx)
	})
	for _, path := range []string{"/none", "/bad"} {
		if r, ok := tlsSink.find(func(r sinkRequest) bool { return r.path == path }); ok {
			t.Errorf("delivered at %s without the sink's CA: %s %s", path, r.method, r.path)
		}
	}
}
