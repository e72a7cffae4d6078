package notification_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notifyv1 "github.com/fluxcd/notification-controller/api/v1"
	notifyv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/notify"
	"github.com/gitopskit/gitopskit/notify/provider"
	"github.com/gitopskit/gitopskit/source/git/gittest"
)

// sink records the requests a provider sends.
type sink struct {
	mu   sync.Mutex
	reqs []sinkRequest
}

type sinkRequest struct {
	method, path string
	header       http.Header
	body         []byte
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.reqs = append(s.reqs, sinkRequest{r.Method, r.URL.Path, r.Header.Clone(), body})
	s.mu.Unlock()
	if r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("[]"))
		return
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte("{}"))
}

func (s *sink) find(match func(sinkRequest) bool) (sinkRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.reqs {
		if match(r) {
			return r, true
		}
	}
	return sinkRequest{}, false
}

func TestCommitToNotificationsAndReceiver(t *testing.T) {
	ctx := context.Background()
	const ns = "notify-e2e"
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})

	hmacSink, ghSink := &sink{}, &sink{}
	hmacSrv, ghSrv := httptest.NewServer(hmacSink), httptest.NewServer(ghSink)
	defer hmacSrv.Close()
	defer ghSrv.Close()

	const hmacKey, ghToken, hookToken = "hmac-key", "gh-token", "hook-token"
	secret := func(name string, data map[string]string) {
		create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: data})
	}
	secret("hmac", map[string]string{"address": hmacSrv.URL + "/flux", "token": hmacKey, "headers": "X-Team: platform\n"})
	secret("github", map[string]string{"token": ghToken})
	secret("webhook", map[string]string{"token": hookToken})
	create(t, &notifyv1beta3.Provider{ObjectMeta: metav1.ObjectMeta{Name: "hmac", Namespace: ns},
		Spec: notifyv1beta3.ProviderSpec{Type: provider.TypeGenericHMAC, SecretRef: &meta.LocalObjectReference{Name: "hmac"}}})
	create(t, &notifyv1beta3.Provider{ObjectMeta: metav1.ObjectMeta{Name: "github", Namespace: ns},
		Spec: notifyv1beta3.ProviderSpec{Type: provider.TypeGitHub, Address: ghSrv.URL + "/acme/fleet", SecretRef: &meta.LocalObjectReference{Name: "github"}}})
	for _, p := range []string{"hmac", "github"} {
		create(t, &notifyv1beta3.Alert{ObjectMeta: metav1.ObjectMeta{Name: p, Namespace: ns},
			Spec: notifyv1beta3.AlertSpec{ProviderRef: meta.LocalObjectReference{Name: p},
				EventSources: []notifyv1.CrossNamespaceObjectReference{{Kind: "Kustomization", Name: "*"}}}})
	}

	srv := gittest.NewHTTPServer(t)
	repo := srv.NewRepo(t, "fleet")
	head := repo.Commit("initial", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  v: \"1\"\n"})
	rev := "main@sha1:" + head
	const interval = time.Hour
	create(t, &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: ns},
		Spec: sourcev1.GitRepositorySpec{URL: repo.URL, Interval: metav1.Duration{Duration: interval},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"}}})
	create(t, &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: kustomizev1.KustomizationSpec{Interval: metav1.Duration{Duration: interval}, Path: "./", Prune: true,
			TargetNamespace: ns, SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"}}})

	// The commit reaches the cluster.
	poll(t, 90*time.Second, "ConfigMap applied", func(ctx context.Context) (bool, error) {
		var cm corev1.ConfigMap
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, &cm)
		return err == nil, client.IgnoreNotFound(err)
	})

	// The Kustomization's Ready event reaches the generic-hmac sink, signed.
	var got notify.Event
	poll(t, 60*time.Second, "signed ReconciliationSucceeded at the generic-hmac sink", func(context.Context) (bool, error) {
		r, ok := hmacSink.find(func(r sinkRequest) bool {
			var e notify.Event
			return r.method == http.MethodPost && json.Unmarshal(r.body, &e) == nil &&
				e.InvolvedObject.Kind == "Kustomization" && e.Reason == "ReconciliationSucceeded"
		})
		if ok {
			_ = json.Unmarshal(r.body, &got)
			if sig := r.header.Get("X-Signature"); sig != provider.Signature([]byte(hmacKey), r.body) {
				t.Errorf("X-Signature = %q does not sign the body with the Provider's token", sig)
			}
			if r.path != "/flux" || r.header.Get("X-Team") != "platform" {
				t.Errorf("request to %s with X-Team %q; want /flux, platform (from the Secret)", r.path, r.header.Get("X-Team"))
			}
		}
		return ok, nil
	})
	if got.Metadata["revision"] != rev || got.InvolvedObject.Name != "app" || got.Severity != notify.SeverityInfo {
		t.Errorf("notification = %+v; want info about Kustomization app at %s", got, rev)
	}

	// And a GitHub commit status with the right revision.
	statusPath := "/repos/acme/fleet/statuses/" + head
	poll(t, 60*time.Second, "commit status at "+statusPath, func(context.Context) (bool, error) {
		r, ok := ghSink.find(func(r sinkRequest) bool { return r.method == http.MethodPost && strings.HasSuffix(r.path, statusPath) })
		if ok {
			var st map[string]string
			if err := json.Unmarshal(r.body, &st); err != nil || st["state"] != "success" {
				t.Errorf("commit status body %s: want state success", r.body)
			}
			if r.header.Get("Authorization") != "Bearer "+ghToken {
				t.Errorf("commit status not authenticated with the Provider's token")
			}
		}
		return ok, nil
	})

	// A GitHub push webhook makes the GitRepository reconcile at once.
	create(t, &notifyv1.Receiver{ObjectMeta: metav1.ObjectMeta{Name: "github", Namespace: ns},
		Spec: notifyv1.ReceiverSpec{Type: "github", Events: []string{"push"}, SecretRef: &meta.LocalObjectReference{Name: "webhook"},
			Resources: []notifyv1.ReceiverResource{{CrossNamespaceObjectReference: notifyv1.CrossNamespaceObjectReference{
				Kind: sourcev1.GitRepositoryKind, Name: "fleet"}}}}})
	var rcv notifyv1.Receiver
	poll(t, 60*time.Second, "Receiver ready", func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "github"}, &rcv); err != nil {
			return false, err
		}
		return apimeta.IsStatusConditionTrue(rcv.Status.Conditions, meta.ReadyCondition), nil
	})
	c := apimeta.FindStatusCondition(rcv.Status.Conditions, meta.ReadyCondition)
	if want := "Receiver initialized for path: " + rcv.Status.WebhookPath; c.Reason != meta.SucceededReason || c.Message != want {
		t.Errorf("Ready = %s %q, want %s %q", c.Reason, c.Message, meta.SucceededReason, want)
	}
	if !strings.HasPrefix(rcv.Status.WebhookPath, "/hook/") {
		t.Fatalf("webhookPath = %q", rcv.Status.WebhookPath)
	}

	next := "main@sha1:" + repo.Commit("second", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  v: \"2\"\n"})
	body := []byte(`{"ref":"refs/heads/main","repository":{"full_name":"acme/fleet"}}`)
	mac := hmac.New(sha256.New, []byte(hookToken))
	mac.Write(body)
	post := func(sig string) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, servers.ReceiverURL+rcv.Status.WebhookPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("sha256=" + strings.Repeat("0", 64)); code != http.StatusBadRequest {
		t.Errorf("badly signed webhook: status %d, want 400", code)
	}
	start := time.Now()
	if code := post("sha256=" + hex.EncodeToString(mac.Sum(nil))); code != http.StatusOK {
		t.Fatalf("webhook: status %d, want 200", code)
	}
	poll(t, 60*time.Second, "GitRepository at "+next+" after the webhook", func(ctx context.Context) (bool, error) {
		var gr sourcev1.GitRepository
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fleet"}, &gr); err != nil {
			return false, err
		}
		return gr.Status.Artifact != nil && gr.Status.Artifact.Revision == next, nil
	})
	elapsed := time.Since(start)
	t.Logf("GitRepository reconciled %s after the webhook (interval %s)", elapsed.Round(time.Millisecond), interval)
	if elapsed > time.Minute {
		t.Errorf("the webhook took %s to reconcile the GitRepository; want well under its %s interval", elapsed, interval)
	}

	select {
	case err := <-eventErr:
		t.Errorf("posting an event to the event server: %v", err)
	default:
	}
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

func poll(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
