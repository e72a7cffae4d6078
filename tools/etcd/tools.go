//go:build tools

// Package etcd pins the etcd server that the tests run under the local
// control plane. It is a separate module because etcd's own go.mod carries
// replace directives that prevent a plain go install.
package etcd

import _ "go.etcd.io/etcd/server/v3"
