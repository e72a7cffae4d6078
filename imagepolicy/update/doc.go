// Package update rewrites the fields of YAML files that carry Flux's image
// policy setter markers, as Flux's ImageUpdateAutomation does with its
// "Setters" strategy, and renders the commit message for the change.
//
// A marker is a line comment on a scalar field (or, when the field has no
// line comment, a comment on the line above it) holding a JSON object with
// the key "$imagepolicy":
//
//	image: ghcr.io/org/app:v1.0.0 # {"$imagepolicy": "apps:app"}
//	tag: v1.0.0 # {"$imagepolicy": "apps:app:tag"}
//	name: ghcr.io/org/app # {"$imagepolicy": "apps:app:name"}
//	digest: sha256:… # {"$imagepolicy": "apps:app:digest"}
//
// The long form kyaml also reads, {"$ref":
// "#/definitions/io.k8s.cli.setters.ns:name"}, works too (in files that
// also contain the quoted "$imagepolicy" text, as Flux screens them).
//
// "ns:name" takes the policy's full reference ("name:tag", or
// "name:tag@digest" when the policy reflects digests); ":tag", ":name" and
// ":digest" take one part of it.
//
// Apply walks the files named *.yaml, *.yml or Kustomization under a path,
// reads only those containing the text "$imagepolicy" in quotes (as Flux
// screens them), finds the markers by walking each document's YAML nodes
// and their comments, and replaces each marked value in place in the file's
// bytes: indentation, comments, quoting, key order, document separators and
// line endings stay as they were, unlike Flux, which re-serializes the whole
// file through kyaml. Only files with a changed value are written. Unlike
// Flux it changes no process-wide state: kyaml's setter short-hand and
// OpenAPI schema, which Flux sets at start-up, stay untouched, so kustomize
// builds may run in the same process.
//
// The typed Result (files → objects → changes, each with old value, new
// value and setter) is Flux's: CommitMessage renders a Go text/template over
// Flux's TemplateData (AutomationObject, Changed, Values), with Sprig's
// hermetic functions, so Flux users' message templates work unchanged.
//
// Where it deliberately differs from Flux: a ":digest" marker is left alone
// when the policy has no digest (Flux blanks the field); changes in
// documents without apiVersion, kind or metadata (a Helm values file) are
// reported under an empty ObjectIdentifier (Flux writes them but leaves them
// out of its result, so a change only there makes no commit); symbolic
// links are not followed and every read and write is confined to the root
// (os.Root); a marked value that cannot be replaced in place
// (a block or multi-line scalar, an anchored or tagged one) is reported in
// Result.Skipped instead of being rewritten.
package update
