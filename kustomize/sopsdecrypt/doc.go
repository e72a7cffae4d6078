// Package sopsdecrypt decrypts SOPS-encrypted Kubernetes Secrets, generator
// sources and patches during kustomize builds, as Flux's
// kustomize-controller does for spec.decryption with provider sops.
//
// A Decryptor implements kustomize.Decryptor; set it in
// kustomize.Options.Decryptor:
//
//	keys, err := sopsdecrypt.KeysFromSecretData(secret.Data) // *.agekey, *.asc
//	res, err := kustomize.Build(ctx, root, path, kustomize.Options{
//		Decryptor: &sopsdecrypt.Decryptor{Keys: keys},
//	})
//
// Keys come from age identities and OpenPGP private keys held in memory
// (KeysFromSecretData reads them from a Secret the way Flux does), and from
// KeyServices that decrypt data keys with master keys they control (a KMS,
// a Vault transit engine); sopsdecrypttest has a double of one.
//
// What is verified: every document's MAC, as the sops CLI does
// (ErrIntegrity); plaintext only ever lands in Secrets
// (kustomize.ErrDecryptRefused otherwise); each file and object is capped
// in size (ErrFileTooLarge); panics of the parsers are recovered; YAML is
// checked for alias bombs before it is parsed. When no
// configured key opens a document, the error (ErrNoMatchingKey) lists the
// document's master keys and the key sources tried for each. Errors never
// carry plaintext.
//
// The five SOPS file formats (YAML, JSON, dotenv, INI, binary) are read and
// written by this package, with the trees and the bytes of the sops v3.13
// CLI's own format code (comments, key order, value types, YAML indented by
// four spaces, JSON by tabs), so MACs verify as they do with sops; sops's
// format packages are not linked, as they bring its configuration package
// and, with it, the Google Cloud Storage and gRPC xDS clients.
//
// This package is separate from kustomize because of its weight: the SOPS
// library links the AWS, Azure and Google Cloud SDKs for its key services
// (about 770 packages more than kustomize alone). A program that builds
// without decryption imports only kustomize.
package sopsdecrypt
