//go:build tools

// Package kwok pins kwok, which the tests run next to the local control
// plane to simulate nodes and the lifecycle of the pods bound to them. It is
// a separate module so that the main module's dependency graph stays free of
// kwok's.
package kwok

import _ "sigs.k8s.io/kwok/cmd/kwok"
