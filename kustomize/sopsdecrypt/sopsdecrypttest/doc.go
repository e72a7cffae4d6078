// Package sopsdecrypttest provides doubles for testing code that decrypts
// SOPS with the sopsdecrypt package: a KeyService that behaves like a KMS
// backed by age identities, and Encrypt, which writes SOPS-encrypted
// fixtures as the sops CLI does, without the CLI.
package sopsdecrypttest
