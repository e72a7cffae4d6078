//go:build tools

// Package crane pins crane, the registry CLI the OCI pull benchmark
// compares the SDK's fetch with. It is a separate module so that the main
// module's dependency graph stays free of the CLI's.
package crane

import _ "github.com/google/go-containerregistry/cmd/crane"
