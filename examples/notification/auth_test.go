package notification_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
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
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/notification"
	"github.com/gitopskit/gitopskit/notify"
)

// installationToken is what appSink issues for GitHub App installations.
const installationToken = "ghs_installation-token-for-tests"

// appSink records requests like sink and also answers GitHub's
// installation-token endpoint.
type appSink struct{ sink }

func (s *appSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/access_tokens") {
		s.mu.Lock()
		s.reqs = append(s.reqs, sinkRequest{r.Method, r.URL.Path, r.Header.Clone(), nil})
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"token": installationToken, "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
		return
	}
	s.sink.ServeHTTP(w, r)
}

// warningOn waits for a Warning Event with reason on the Alert named alert
// and returns its note.
func warningOn(t *testing.T, ns, alert, reason string) string {
	t.Helper()
	var note string
	poll(t, 60*time.Second, reason+" Event on the Alert "+alert, func(ctx context.Context) (bool, error) {
		var list eventsv1.EventList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, ev := range list.Items {
			if ev.Regarding.Kind == "Alert" && ev.Regarding.Name == alert && ev.Reason == reason && ev.Type == corev1.EventTypeWarning {
				note = ev.Note
				return true, nil
			}
		}
		return false, nil
	})
	return note
}

func providerAlert(t *testing.T, ns, name string, spec notifyv1beta3.ProviderSpec) {
	t.Helper()
	create(t, &notifyv1beta3.Provider{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: spec})
	create(t, &notifyv1beta3.Alert{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: notifyv1beta3.AlertSpec{ProviderRef: meta.LocalObjectReference{Name: name}, EventSeverity: "info",
			EventSources: []notifyv1.CrossNamespaceObjectReference{{Kind: "Kustomization", Name: "*"}}}})
}

// A github commit-status Provider whose Secret holds GitHub App keys and
// the server's CA ("ca.crt", Flux's deprecated fallback when there is no
// certSecretRef) sets the status on a TLS server with a token minted for
// the App; a generic Provider does not take a CA from its secretRef, as in
// Flux, and fails to deliver to the same server.
func TestProviderGitHubAppAndSecretRefCA(t *testing.T) {
	const ns = "provider-app"
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	gh := &appSink{}
	srv := httptest.NewTLSServer(gh)
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "github-app", Namespace: ns}, Data: map[string][]byte{
		"githubAppID": []byte("1001"), "githubAppInstallationID": []byte("5"), "githubAppPrivateKey": keyPEM, "ca.crt": ca,
	}})
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "only-ca", Namespace: ns}, Data: map[string][]byte{"ca.crt": ca}})
	timeout := &metav1.Duration{Duration: 2 * time.Second}
	providerAlert(t, ns, "status", notifyv1beta3.ProviderSpec{Type: "github", Address: srv.URL + "/org/repo", Timeout: timeout,
		SecretRef: &meta.LocalObjectReference{Name: "github-app"}})
	providerAlert(t, ns, "generic", notifyv1beta3.ProviderSpec{Type: "generic", Address: srv.URL + "/generic", Timeout: timeout,
		SecretRef: &meta.LocalObjectReference{Name: "only-ca"}})

	rec, err := notify.NewHTTPRecorder(servers.EventURL, notify.WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	const sha = "89abcdef0123456789abcdef0123456789abcdef"
	statusPath := "/api/v3/repos/org/repo/statuses/" + sha
	sent := 0
	poll(t, 60*time.Second, "commit status set with the App's installation token", func(ctx context.Context) (bool, error) {
		if r, ok := gh.find(func(r sinkRequest) bool { return r.method == http.MethodPost && r.path == statusPath }); ok {
			if h := r.header.Get("Authorization"); h != "Bearer "+installationToken {
				t.Errorf("commit status sent with Authorization %q, want the installation token", h)
			}
			return true, nil
		}
		if sent++; sent%10 != 1 {
			return false, nil
		}
		return false, rec.Record(ctx, notify.Event{
			InvolvedObject:      notify.ObjectReference{Kind: "Kustomization", APIVersion: "kustomize.toolkit.fluxcd.io/v1", Namespace: ns, Name: "app"},
			Severity:            notify.SeverityInfo,
			Reason:              "ReconciliationSucceeded",
			Message:             fmt.Sprintf("Applied revision: main@sha1:%s (%d)", sha, sent),
			Metadata:            map[string]string{notify.MetaRevisionKey: "main@sha1:" + sha, notify.MetaCommitStatusKey: notify.MetaCommitStatusUpdate},
			ReportingController: "kustomize-controller",
		})
	})
	r, ok := gh.find(func(r sinkRequest) bool { return strings.HasSuffix(r.path, "/access_tokens") })
	if !ok || r.path != "/api/v3/app/installations/5/access_tokens" || !strings.HasPrefix(r.header.Get("Authorization"), "Bearer eyJ") {
		t.Errorf("installation token request %+v: want POST /api/v3/app/installations/5/access_tokens with the App's JWT", r)
	}
	warningOn(t, ns, "generic", notification.NotificationDispatchFailedReason)
	if r, ok := gh.find(func(r sinkRequest) bool { return r.path == "/generic" }); ok {
		t.Errorf("generic Provider delivered with a CA from its secretRef: %s %s", r.method, r.path)
	}
}

// A Provider with spec.serviceAccountName (object-level workload identity)
// is reported as not supported, not posted without credentials.
func TestProviderServiceAccountName(t *testing.T) {
	const ns = "provider-sa"
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	providerAlert(t, ns, "pubsub", notifyv1beta3.ProviderSpec{Type: "googlepubsub", Address: "my-project", Channel: "flux-events",
		ServiceAccountName: "tenant-a-pubsub"})
	rec, err := notify.NewHTTPRecorder(servers.EventURL, notify.WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	// The controller may not see the new Alert at once: post the event
	// again, worded anew so that it is not de-duplicated, until reported.
	sent := 0
	poll(t, 60*time.Second, "an InvalidConfig Event on the Alert pubsub", func(ctx context.Context) (bool, error) {
		var list eventsv1.EventList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, ev := range list.Items {
			if ev.Regarding.Kind == "Alert" && ev.Regarding.Name == "pubsub" && ev.Reason == notification.InvalidConfigReason {
				return true, nil
			}
		}
		if sent++; sent%10 != 1 {
			return false, nil
		}
		return false, rec.Record(ctx, notify.Event{
			InvolvedObject:      notify.ObjectReference{Kind: "Kustomization", APIVersion: "kustomize.toolkit.fluxcd.io/v1", Namespace: ns, Name: "app"},
			Severity:            notify.SeverityInfo,
			Reason:              "ReconciliationSucceeded",
			Message:             fmt.Sprintf("Applied revision: main@sha1:0123456789abcdef (%d)", sent),
			ReportingController: "kustomize-controller",
		})
	})
	note := warningOn(t, ns, "pubsub", notification.InvalidConfigReason)
	if !strings.Contains(note, "serviceAccountName") || !strings.Contains(note, "not supported") {
		t.Errorf("InvalidConfig note %q: want it to say spec.serviceAccountName is not supported", note)
	}
}

// A Ready Receiver is reconciled again after its spec.interval, as in
// Flux, so a Secret changed behind the controller's back is re-read.
func TestReceiverInterval(t *testing.T) {
	const ns = "receiver-interval"
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token", Namespace: ns}, Data: map[string][]byte{"token": []byte("receiver-token")}})
	for name, interval := range map[string]*metav1.Duration{"every-3m": {Duration: 3 * time.Minute}, "default": nil} {
		create(t, &notifyv1.Receiver{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: notifyv1.ReceiverSpec{
			Type: "generic", Interval: interval, SecretRef: &meta.LocalObjectReference{Name: "token"},
			Resources: []notifyv1.ReceiverResource{{CrossNamespaceObjectReference: notifyv1.CrossNamespaceObjectReference{
				APIVersion: "source.toolkit.fluxcd.io/v1", Kind: "GitRepository", Name: "app"}}},
		}})
	}
	r := &notification.ReceiverReconciler{Client: env.Client}
	for name, want := range map[string]time.Duration{"every-3m": 3 * time.Minute, "default": 10 * time.Minute} {
		// The first passes may add the finalizer (an immediate requeue)
		// or meet the running controller's own write (a conflict).
		var res ctrl.Result
		poll(t, 30*time.Second, "Receiver "+name+" reconciled", func(ctx context.Context) (bool, error) {
			var err error
			res, err = r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}})
			return err == nil && res.RequeueAfter != 0, nil
		})
		if res.RequeueAfter != want {
			t.Errorf("%s: requeue after %v, want %v", name, res.RequeueAfter, want)
		}
	}
}
