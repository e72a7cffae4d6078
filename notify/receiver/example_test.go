package receiver_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gitopskit/gitopskit/notify/receiver"
)

// Example serves a GitHub receiver and delivers GitHub's documented test
// payload to it; the callback is where a controller would patch
// reconcile.fluxcd.io/requestedAt onto each object.
func Example() {
	github := &receiver.Receiver{
		Name:      "github-receiver",
		Namespace: "flux-system",
		Type:      receiver.GitHub,
		Token:     "It's a Secret to Everybody",
		Events:    []string{"ping", "push"},
		Resources: []receiver.Resource{{Kind: "GitRepository", Name: "flux-system"}},
	}
	if err := github.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h, err := receiver.NewHandler(receiver.HandlerOptions{
		Lookup: receiver.Receivers{github},
		Request: func(_ context.Context, r *receiver.Receiver, objects []receiver.Object) error {
			for _, o := range objects {
				fmt.Printf("annotate %s %s/%s %s=%s\n", o.Kind, o.Namespace, o.Name,
					receiver.ReconcileRequestAnnotation, now.Format(time.RFC3339))
			}
			return nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("status.webhookPath:", github.WebhookPath())

	deliver := func(signature string) int {
		req := httptest.NewRequest(http.MethodPost, github.WebhookPath(), strings.NewReader("Hello, World!"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", signature)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	fmt.Println(deliver("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"))
	fmt.Println(deliver("sha256=0000000000000000000000000000000000000000000000000000000000000000"))
	// Output:
	// status.webhookPath: /hook/23771dad5db77b86207d24dfa7ec4e545bde939b3698ccef0c41ff432a4b0614
	// annotate GitRepository flux-system/flux-system reconcile.fluxcd.io/requestedAt=2026-01-02T03:04:05Z
	// 200
	// 400
}
