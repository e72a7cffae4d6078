// Package natsprovider delivers notify.Event values to a NATS subject, as
// Flux's notification-controller does for Providers of type nats: the
// event's JSON payload is published on the subject named by the Provider's
// channel, on the server named by its address.
//
// It is a package of its own so that only programs that deliver to NATS
// link the NATS client; provider.New serves the type when given Option:
//
//	s, err := provider.New(cfg, natsprovider.Option())
//
// Authentication follows Flux's order of precedence: a user credentials
// file (the Secret's "creds" key, in Config.SecretData: JWT and NKey seed,
// for servers in operator mode), then a user NKey seed (the "nkey" key),
// then Username and Password (both set, as Flux requires); a user and
// password may also come in the address (nats://user:password@host:4222).
// Beyond Flux, which ignores it for this type, Token is sent as a NATS
// authentication token when none of the above is set. Config.TLSConfig secures
// the connection with a custom CA or client certificates; Config.Headers,
// beyond Flux, become NATS message headers. An HTTP proxy cannot carry
// NATS: a Config with Proxy is refused.
//
// Like Flux, every Post connects, publishes, waits for the server to
// acknowledge the publication (a PING/PONG round trip, which also reports a
// publish permission violation) and disconnects. Connection failures are
// retried with Config.Retry's backoff; an authentication or authorization
// failure is not. Config.Timeout bounds a whole Post (15s by default). No
// error names the password, the token or the address's userinfo.
package natsprovider
