//go:build tools

// Package helm pins the helm CLI, the reference the source/helm tests
// compare packaged, pulled and dependency-built charts with. It is a
// separate module so that the main module's dependency graph stays free of
// the CLI's.
package helm

import _ "helm.sh/helm/v4/cmd/helm"
