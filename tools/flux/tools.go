//go:build tools

// Package flux pins the flux CLI, which the source/oci tests drive to check
// that what the SDK pushes is pulled by `flux pull artifact` and that what
// `flux push artifact` pushes is fetched by the SDK. It is a separate module
// so that the main module's dependency graph stays free of the CLI's.
package flux

import _ "github.com/fluxcd/flux2/v2/cmd/flux"
