//go:build tools

// Package fakegcs pins the Google Cloud Storage emulator (fake-gcs-server)
// that the source/bucket/gcs tests start: it serves the JSON and XML APIs
// over HTTP or HTTPS from memory or a directory. It is a separate module so
// that its dependencies stay out of the main module's graph.
package fakegcs

import _ "github.com/fsouza/fake-gcs-server"
