// Package kustomize turns a directory of manifests (typically an unpacked
// artifact) into the exact set of Kubernetes objects to apply, the way
// Flux's kustomize-controller does before it talks to a cluster, as a pure
// function with no API server involved.
//
// Build runs the whole pipeline:
//
//  1. generate a kustomization.yaml when the directory has none (listing
//     every Kubernetes manifest and every sub-kustomization below it,
//     honouring an Ignorer), or amend the existing one with the overrides of
//     Options (target namespace, name prefix/suffix, common labels and
//     annotations, patches, images, components); nothing is written to the
//     caller's tree, all changes live in an in-memory overlay;
//  2. with Options.Decryptor, decrypt SOPS-encrypted files used by
//     secretGenerator and patches (and verify encrypted manifests);
//  3. build with sigs.k8s.io/kustomize/api, builtin plugins only (no exec,
//     Go or KRM function plugins, no Helm inflation), every file read
//     confined to the root (symbolic links resolved), remote bases refused
//     unless Options.AllowRemoteBases, kustomize panics recovered;
//  4. substitute variables with Flux's post-build syntax (see Expand);
//  5. decrypt SOPS-encrypted objects and refuse any that stay encrypted.
//
// SOPS decryption sits behind the Decryptor interface; the
// kustomize/sopsdecrypt package implements it with the SOPS library and its
// key services. This package only recognises SOPS metadata, so a program
// that builds without decryption links neither SOPS nor any cloud SDK.
// Without a Decryptor, SOPS-encrypted objects and generator sources are
// refused with ErrStillEncrypted (unless annotated DecryptKey: disabled)
// rather than applied as ciphertext.
//
// The Result holds unstructured objects, the YAML stream (byte-identical to
// `kustomize build` when no option changes the output) and its digest.
//
// Concurrency: builds may run in parallel. Kustomize keeps its OpenAPI
// schema in process-wide variables; a build whose kustomizations set the
// `openapi:` field therefore runs alone, while all others share. Nothing
// else serialises builds: kustomize parses its schema and its default
// transformer configuration once per process, not per build. A build is
// CPU-bound and allocation-heavy (about 250 KiB per rendered object in the
// benchmark trees), so running many more builds at once than there are
// CPUs costs CPU time (time-slicing, a larger live heap) without finishing
// sooner; callers with many builds to do are best served by bounding their
// concurrency to GOMAXPROCS. The Result's objects hold only JSON-compatible
// values (int64 and float64 numbers), so unstructured's DeepCopy and
// helpers work on them.
package kustomize
