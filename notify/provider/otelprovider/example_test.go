package otelprovider_test

import (
	"errors"
	"fmt"

	"github.com/gitopskit/gitopskit/notify/provider"
	"github.com/gitopskit/gitopskit/notify/provider/otelprovider"
)

// provider.New serves the otel type once given otelprovider.Option; only
// programs that pass it link the OpenTelemetry SDK.
func Example() {
	cfg := provider.Config{
		Type:     provider.TypeOTel,
		Address:  "https://collector.observability:4318/v1/traces",
		Username: "flux",
		Password: "from-the-provider-secret",
		// The Alert names the service and seeds the trace ID.
		AlertObject: map[string]any{"metadata": map[string]any{
			"name": "on-call", "namespace": "flux-system", "uid": "5a4c0e0f-1b3c-4d2e-9f00-0123456789ab",
		}},
	}
	_, err := provider.New(cfg)
	fmt.Println(errors.Is(err, provider.ErrUnsupportedType))

	s, err := provider.New(cfg, otelprovider.Option())
	fmt.Println(s != nil, err)

	fmt.Println(otelprovider.Revision(map[string]string{"app-version": "6.5.0", "oci-digest": "sha256:d4e5"}))

	// Then, for each event: err = s.Post(ctx, event)
	// Output:
	// true
	// true <nil>
	// 6.5.0@sha256:d4e5
}
