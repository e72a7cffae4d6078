// Package ocitest runs an in-process OCI registry for tests:
// go-containerregistry's registry (with OCI 1.1 referrers support) behind
// an httptest server, over plain HTTP or TLS, optionally behind basic
// auth, with helpers that push test artifacts and a log of the requests
// it served. It is meant for the tests of this module and of its users.
package ocitest
