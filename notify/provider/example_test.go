package provider_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gitopskit/gitopskit/notify"
	"github.com/gitopskit/gitopskit/notify/provider"
)

// Example sends an event to a generic-hmac webhook, which verifies the
// X-Signature header as Flux's documentation shows.
func Example() {
	key := []byte("webhook-secret")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Println("component:", r.Header.Get("Gotk-Component"))
		fmt.Println("signature valid:", r.Header.Get("X-Signature") == provider.Signature(key, body))
	}))
	defer srv.Close()

	sender, err := provider.New(provider.Config{
		Type:    provider.TypeGenericHMAC,
		Address: srv.URL + "/flux",
		Token:   string(key),
		Timeout: 5 * time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = sender.Post(context.Background(), notify.Event{
		InvolvedObject:      notify.ObjectReference{Kind: "Kustomization", Namespace: "flux-system", Name: "apps"},
		Severity:            notify.SeverityInfo,
		Timestamp:           time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Message:             "Reconciliation finished",
		Reason:              "ReconciliationSucceeded",
		ReportingController: "kustomize-controller",
	})
	fmt.Println("error:", err)
	// Output:
	// component: kustomize-controller
	// signature valid: true
	// error: <nil>
}

// ExampleNew shows that configuration errors name the field and never echo
// the address, which may hold a credential.
func ExampleNew() {
	_, err := provider.New(provider.Config{Type: provider.TypeSlack, Address: "hooks.slack.com/services/T0/B0/secret"})
	fmt.Println(err)
	// Output:
	// invalid provider configuration: Address: must be an http or https URL
}

// ExampleDefaultCommitStatus shows Flux's default commit-status key.
func ExampleDefaultCommitStatus() {
	e := notify.Event{InvolvedObject: notify.ObjectReference{Kind: "Kustomization", Name: "apps"}}
	fmt.Println(provider.DefaultCommitStatus("0c9c2e41-d2f9-4f9b-9c41-1d2f3a4b5c6d", e))
	// Output:
	// kustomization/apps/0c9c2e41
}

// A googlepubsub provider publishes on a topic through Pub/Sub's REST API:
// Address is the project, Channel the topic, Headers the message
// attributes, Token an OAuth 2.0 access token.
func ExampleNew_googlePubSub() {
	s, err := provider.New(provider.Config{
		Type:    provider.TypeGooglePubSub,
		Address: "my-project",
		Channel: "flux-events",
		Token:   "an-access-token",
		Headers: map[string]string{"team": "platform"},
	})
	fmt.Println(s != nil, err)

	_, err = provider.New(provider.Config{
		Type:    provider.TypeGooglePubSub,
		Address: "my-project",
		Channel: "flux-events",
		Token:   `{"type": "service_account"}`,
	})
	fmt.Println(errors.Is(err, provider.ErrInvalidConfig))
	// Output:
	// true <nil>
	// true
}

// ExampleSignEventHubSAS signs the SAS token an azureeventhub provider sends
// for a connection string's shared access key (the signature agrees with
// `openssl dgst -sha256 -hmac <key>` over "<sr>\n<se>").
func ExampleSignEventHubSAS() {
	expiry := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sas := provider.SignEventHubSAS("https://contoso.servicebus.windows.net/flux-events", "send", "c2FzLWtleQ==", expiry)
	fmt.Println(sas)
	// Output:
	// SharedAccessSignature sr=https%3A%2F%2Fcontoso.servicebus.windows.net%2Fflux-events&sig=D0gJ9ziW2tUul9pYAU5FhgrD7%2BCWjVC1ivtMrKRKBhg%3D&se=1767225600&skn=send
}
