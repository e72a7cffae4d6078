package natsprovider_test

import (
	"errors"
	"fmt"

	"github.com/gitopskit/gitopskit/notify/provider"
	"github.com/gitopskit/gitopskit/notify/provider/natsprovider"
)

// provider.New serves the nats type once given natsprovider.Option; only
// programs that pass it link the NATS client.
func Example() {
	cfg := provider.Config{
		Type:     provider.TypeNATS,
		Address:  "nats://nats.messaging:4222",
		Channel:  "flux.events", // the subject
		Username: "flux",
		Password: "from-the-provider-secret",
	}
	_, err := provider.New(cfg)
	fmt.Println(errors.Is(err, provider.ErrUnsupportedType))

	s, err := provider.New(cfg, natsprovider.Option())
	fmt.Println(s != nil, err)

	// Then, for each event: err = s.Post(ctx, event)
	// Output:
	// true
	// true <nil>
}
