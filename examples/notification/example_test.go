package notification_test

import (
	"fmt"

	notifyv1 "github.com/fluxcd/notification-controller/api/v1"
	notifyv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/examples/notification"
	"github.com/gitopskit/gitopskit/notify"
	"github.com/gitopskit/gitopskit/notify/provider"
)

// An Alert becomes a notify.Rule, a Provider Secret a provider.Config, and
// a Receiver a receiver.Receiver served at its webhook path.
func Example() {
	alert := &notifyv1beta3.Alert{
		ObjectMeta: metav1.ObjectMeta{Name: "on-call", Namespace: "apps"},
		Spec: notifyv1beta3.AlertSpec{
			EventSeverity: "error",
			EventSources:  []notifyv1.CrossNamespaceObjectReference{{Kind: "Kustomization", Name: "*"}},
		},
	}
	rule, err := notify.Compile(notification.Alert(alert))
	if err != nil {
		panic(err)
	}
	e := notify.Event{
		InvolvedObject: notify.ObjectReference{Kind: "Kustomization", Namespace: "apps", Name: "web"},
		Severity:       notify.SeverityError, Reason: "HealthCheckFailed", Message: "timeout",
	}
	fmt.Println("heard:", rule.Matches(e, nil))

	cfg := provider.Config{Type: provider.TypeGenericHMAC}
	if err := notification.SecretConfig(&cfg, map[string][]byte{
		"address": []byte("https://hooks.example.com/flux"),
		"token":   []byte("key"),
		"headers": []byte("X-Team: platform\n"),
	}); err != nil {
		panic(err)
	}
	fmt.Println("headers:", cfg.Headers)

	rcv := notification.Receiver(&notifyv1.Receiver{
		ObjectMeta: metav1.ObjectMeta{Name: "github", Namespace: "apps"},
		Spec:       notifyv1.ReceiverSpec{Type: "github", Resources: []notifyv1.ReceiverResource{{CrossNamespaceObjectReference: notifyv1.CrossNamespaceObjectReference{Kind: "GitRepository", Name: "fleet"}}}},
	}, "token")
	fmt.Println("valid:", rcv.Validate() == nil, "path:", rcv.WebhookPath()[:6])
	// Output:
	// heard: true
	// headers: map[X-Team:platform]
	// valid: true path: /hook/
}
