package kustomize

import (
	"net/http"

	"github.com/gitopskit/gitopskit/selector"
)

// Ignorer decides whether a path below the build root is left out when a
// kustomization is generated. Paths are slash-separated and relative to the
// root. The artifact package's ignore matcher satisfies it.
type Ignorer interface {
	Match(path string, isDir bool) bool
}

// Options configures Build. The zero value builds the kustomization at the
// given path as the kustomize CLI would (legacy resource order), with no
// overrides, no substitution, no decryption and remote bases refused.
type Options struct {
	// Ignore filters the files considered when a kustomization.yaml has to be
	// generated. Nil lists every *.yaml and *.yml file, dot-files and
	// dot-directories included, exactly as Flux's generator does: a tree
	// unpacked from an artifact already had its source's ignore rules
	// applied when it was packed.
	Ignore Ignorer
	// LenientGeneration makes a generated kustomization skip YAML files that
	// do not decode as Kubernetes objects. Off by default: such a file fails
	// the build, as it does in Flux.
	LenientGeneration bool

	// TargetNamespace, when set, replaces the namespace of every namespaced
	// object (Flux's spec.targetNamespace).
	TargetNamespace string
	// NamePrefix and NameSuffix, when set, replace those of the kustomization.
	NamePrefix, NameSuffix string
	// CommonLabels are added to every object's metadata (not to selectors or
	// templates), as Flux's spec.commonMetadata.labels.
	CommonLabels map[string]string
	// CommonAnnotations are added to every object's metadata.
	CommonAnnotations map[string]string
	// Patches are appended to the kustomization's patches.
	Patches []Patch
	// Images are appended to the kustomization's images.
	Images []Image
	// Components are appended to the kustomization's components; paths are
	// relative to the built directory.
	Components []string
	// IgnoreMissingComponents drops Components that do not exist instead of
	// failing.
	IgnoreMissingComponents bool

	// AllowRemoteBases lets builds use remote bases and files. Off by
	// default: such references are an error. Remote files (http and https
	// URLs in generator sources, patch, replacement, OpenAPI and
	// configuration paths, and resources ending in .yaml, .yml or .json) are
	// downloaded by Build itself, with ctx, HTTPClient and
	// MaxRemoteFileSize; git bases are cloned by kustomize with the git
	// command, bounded by kustomize's own clone timeout.
	AllowRemoteBases bool
	// MaxRemoteFileSize bounds each remote file; 0 means
	// DefaultMaxRemoteFileSize.
	MaxRemoteFileSize int64
	// HTTPClient downloads remote files; nil means a client with a
	// one-minute timeout.
	HTTPClient *http.Client
	// KeepInputOrder keeps kustomize's depth-first input order instead of
	// the CLI's default legacy order (namespaces and CRDs first).
	KeepInputOrder bool

	// MaxObjects bounds the number of objects a build may produce; a build
	// that would produce more fails with ErrBuildTooLarge. 0 means
	// DefaultMaxObjects; a negative value means no bound.
	MaxObjects int

	// RestrictToTargetNamespace makes the build refuse, with
	// ErrOutsideTargetNamespace, every object that does not end up in
	// TargetNamespace (which must be set): objects moved elsewhere by a
	// patch or a replacement, and cluster-scoped objects (those kustomize
	// leaves without a namespace) unless AllowClusterScoped. It is the
	// build-side half of a tenant lockdown; reconcile's tenancy check,
	// which asks the API server what is namespaced, is the other.
	RestrictToTargetNamespace bool
	// AllowClusterScoped lets RestrictToTargetNamespace pass objects
	// without a namespace.
	AllowClusterScoped bool

	// Substitute enables post-build variable substitution when non-nil.
	Substitute *Substitution
	// Decryptor enables SOPS decryption when non-nil (see Decryptor; the
	// kustomize/sopsdecrypt package provides one). Nil refuses SOPS-encrypted
	// objects and generator sources with ErrStillEncrypted, except those
	// annotated DecryptKey: DisabledValue.
	Decryptor Decryptor
}

// DefaultMaxObjects is the number of objects a build may produce when
// Options.MaxObjects is 0.
const DefaultMaxObjects = 10_000

// Patch is a strategic merge or JSON 6902 patch (kustomize detects which
// from its content) with an optional target selector.
type Patch struct {
	Patch  string
	Target *Selector
}

// Selector selects the objects a patch applies to; it is the project's one
// selector type, shared with reconcile's ignore rules.
type Selector = selector.Selector

// Image overrides the name, tag or digest of container images.
type Image struct {
	Name    string
	NewName string
	NewTag  string
	Digest  string
}
