//go:build tools

// Package versitygw pins the S3-compatible server (versitygw, posix
// backend) that the source/bucket tests start: it checks AWS Signature
// Version 4 on every request. It is a separate module so that its
// dependencies stay out of the main module's graph.
package versitygw

import _ "github.com/versity/versitygw/cmd/versitygw"
