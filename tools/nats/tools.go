//go:build tools

// Package nats pins the NATS server that the notify/provider/natsprovider
// tests start. It is a separate module so the server's dependencies stay out
// of the project's own module graph.
package nats

import _ "github.com/nats-io/nats-server/v2"
