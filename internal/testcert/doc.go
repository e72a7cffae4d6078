// Package testcert issues the throwaway certificates that the project's
// tests serve TLS with: a new CA and a server certificate for 127.0.0.1
// and localhost, valid for an hour, in PEM.
package testcert
