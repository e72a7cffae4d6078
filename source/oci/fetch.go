package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/source"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// DefaultTag is the tag fetched when a Reference names nothing.
const DefaultTag = "latest"

// DefaultMaxLayerSize caps the size of the selected layer's blob, as
// stored in the registry, when Repository.MaxLayerSize is zero.
const DefaultMaxLayerSize int64 = 100 << 20

// DefaultCopyName is the file a copied layer is written to when
// LayerSelector.CopyName is empty.
const DefaultCopyName = "layer.tgz"

// The OCI annotations Push writes and Fetch reports in Snapshot.Metadata.
const (
	// SourceAnnotation names the upstream source (for example a Git URL).
	SourceAnnotation = "org.opencontainers.image.source"
	// RevisionAnnotation names the upstream revision (for example
	// "main@sha1:<hex>").
	RevisionAnnotation = "org.opencontainers.image.revision"
	// CreatedAnnotation is when the artifact was built, RFC 3339.
	CreatedAnnotation = "org.opencontainers.image.created"
)

// Reference selects the artifact. When several fields are set the
// precedence is Flux's: Digest, then SemVer, then Tag. The zero value
// selects DefaultTag.
type Reference struct {
	// Digest is a manifest digest "sha256:<hex>".
	Digest string
	// SemVer is a version range over the repository's tags; the highest
	// match wins (see SelectSemVer).
	SemVer string
	// SemVerFilter is a regular expression the tags must match before
	// SemVer is applied; empty keeps every tag.
	SemVerFilter string
	// Tag is a tag such as "v1.0.0".
	Tag string
}

// LayerOperation says what Fetch does with the selected layer.
type LayerOperation string

const (
	// LayerExtract untars the layer (tar+gzip) into the directory. It is
	// the default.
	LayerExtract LayerOperation = "extract"
	// LayerCopy writes the layer's blob as it is into the directory, as
	// LayerSelector.CopyName.
	LayerCopy LayerOperation = "copy"
)

// LayerSelector picks the layer of the artifact to fetch. The zero value
// extracts the first layer, as Flux does.
type LayerSelector struct {
	// MediaType selects the first layer of this media type; empty means
	// the first layer.
	MediaType string
	// Operation is LayerExtract (the default when empty) or LayerCopy.
	Operation LayerOperation
	// CopyName is the file name of a copied layer; empty means
	// DefaultCopyName. It must be a plain file name.
	CopyName string
}

// VerifyTarget is what a Verifier checks: the resolved manifest of the
// artifact, before any layer is downloaded.
type VerifyTarget struct {
	// Reference is the digest reference "host/path@sha256:<hex>".
	Reference string
	// Digest is the manifest digest "sha256:<hex>".
	Digest string
	// Tag is the tag the digest was resolved from; empty for a digest
	// reference.
	Tag string
	// Remote holds go-containerregistry options with the same credentials,
	// TLS, transport and context as the fetch, to look up signatures.
	Remote []remote.Option
}

// Verifier checks an artifact's signatures before it is downloaded. A
// failure it returns is reported as source.ErrVerification naming the
// digest.
type Verifier interface {
	Verify(ctx context.Context, target VerifyTarget) error
}

// Repository is an OCI artifact source: configure it, then call Fetch. It
// implements source.Fetcher. The zero value of every optional field is the
// safe default: the "latest" tag, the first layer extracted, anonymous
// HTTPS, caps on the manifest, the layer and the extracted tree, no
// signature verification.
type Repository struct {
	// URL is the repository address "oci://host[:port]/path".
	URL string
	// Ref selects the artifact; see Reference for precedence.
	Ref Reference
	// Layer selects the layer and what to do with it.
	Layer LayerSelector
	// Client says how to reach the registry.
	Client Client
	// Verify, when set, is called with the resolved digest before the
	// artifact is downloaded, but not when Fetch returns
	// source.ErrUnchanged.
	Verify Verifier
	// MaxLayerSize caps the selected layer's blob in bytes; 0 means
	// DefaultMaxLayerSize, a negative value no cap.
	MaxLayerSize int64
	// Unpack caps the extraction (see artifact.UnpackOptions; its zero
	// value applies artifact's default caps). Symbolic and hard links in
	// the layer are skipped, as Flux skips them.
	Unpack artifact.UnpackOptions
}

var _ source.Fetcher = (*Repository)(nil)

// Resolved is an artifact reference resolved to a manifest digest.
type Resolved struct {
	// Tag is the tag the digest was resolved from; empty for a digest
	// reference.
	Tag string
	// Digest is the manifest digest "sha256:<hex>".
	Digest string
	// Revision is the revision in Flux's format (see source.OCIRevision).
	Revision string
	// Reference is the digest reference "host/path@sha256:<hex>".
	Reference string
}

// displayRef is the reference as errors show it.
func (r *Repository) displayRef(tag string) string {
	base := strings.TrimPrefix(r.URL, URLPrefix)
	if len(base) > 256 {
		base = base[:256] + "..."
	}
	switch {
	case r.Ref.Digest != "":
		return base + "@" + r.Ref.Digest
	case tag != "":
		return base + ":" + tag
	case r.Ref.SemVer != "":
		return base + " (semver " + r.Ref.SemVer + ")"
	case r.Ref.Tag != "":
		return base + ":" + r.Ref.Tag
	}
	return base + ":" + DefaultTag
}

// check validates the configuration and returns the repository.
func (r *Repository) check() (name.Repository, error) {
	repo, err := ParseURL(r.URL, r.Client.Insecure)
	if err != nil {
		return name.Repository{}, err
	}
	switch {
	case r.Ref.Digest != "":
		if _, err := v1.NewHash(r.Ref.Digest); err != nil || !strings.HasPrefix(r.Ref.Digest, "sha256:") {
			return name.Repository{}, invalidf("digest %q is not sha256:<64 hex digits>", r.Ref.Digest)
		}
	case r.Ref.SemVer != "":
		if _, err := parseConstraint(r.Ref.SemVer); err != nil {
			return name.Repository{}, err
		}
		if _, err := parseFilter(r.Ref.SemVerFilter); err != nil {
			return name.Repository{}, err
		}
	case r.Ref.Tag != "":
		if _, err := name.NewTag(repo.Name()+":"+r.Ref.Tag, name.StrictValidation); err != nil {
			return name.Repository{}, invalidf("tag %q is not a valid OCI tag", r.Ref.Tag)
		}
	}
	switch r.Layer.Operation {
	case "", LayerExtract, LayerCopy:
	default:
		return name.Repository{}, invalidf("layer operation %q is neither %q nor %q", r.Layer.Operation, LayerExtract, LayerCopy)
	}
	if n := r.Layer.CopyName; n != "" && (n != filepath.Base(n) || n == "." || n == ".." || strings.ContainsAny(n, `/\`)) {
		return name.Repository{}, invalidf("layer copy name %q is not a plain file name", n)
	}
	return repo, nil
}

// Resolve resolves the reference to a manifest digest without downloading
// the manifest's layers: a digest reference needs no request, a tag one
// HEAD of the manifest (a GET when HEAD is refused), a semver range the
// tag list first.
func (r *Repository) Resolve(ctx context.Context) (Resolved, error) {
	red := r.Client.redactor()
	repo, err := r.check()
	if err != nil {
		return Resolved{}, source.NewError(origin, "resolve", r.displayRef(""), red, source.ErrInvalid, err.Error())
	}
	opts, release, err := r.Client.remoteOptions(ctx)
	defer release()
	if err != nil {
		return Resolved{}, classify(ctx, "resolve", r.displayRef(""), err, red)
	}
	res, _, err := r.resolve(ctx, repo, opts, red)
	return res, err
}

func (r *Repository) resolve(ctx context.Context, repo name.Repository, opts []remote.Option, red *source.Redactor) (Resolved, int64, error) {
	if r.Ref.Digest != "" {
		d := repo.Digest(r.Ref.Digest)
		return Resolved{Digest: r.Ref.Digest, Revision: source.OCIRevision("", r.Ref.Digest), Reference: d.String()}, -1, nil
	}
	tag := r.Ref.Tag
	if r.Ref.SemVer != "" {
		tags, err := r.Client.listTags(ctx, repo, opts)
		if err != nil {
			return Resolved{}, 0, classify(ctx, "list tags", r.displayRef(""), err, red)
		}
		t, ok, err := selectSemVer(r.Ref.SemVer, r.Ref.SemVerFilter, tags, r.Layer.MediaType == HelmChartLayerMediaType)
		if err != nil {
			return Resolved{}, 0, classify(ctx, "resolve", r.displayRef(""), err, red)
		}
		if !ok {
			return Resolved{}, 0, newError("resolve", r.displayRef(""), red, source.ErrRefNotFound,
				"no tag matches semver range %q (filter %q) among %d tags", r.Ref.SemVer, r.Ref.SemVerFilter, len(tags))
		}
		tag = t
	}
	if tag == "" {
		tag = DefaultTag
	}
	ref := repo.Tag(tag)
	digest, size, err := headOrGet(ref, opts)
	if err != nil {
		return Resolved{}, 0, classify(ctx, "resolve", r.displayRef(tag), err, red)
	}
	return Resolved{Tag: tag, Digest: digest, Revision: source.OCIRevision(tag, digest), Reference: repo.Digest(digest).String()}, size, nil
}

// headOrGet resolves a reference's manifest digest with HEAD, falling back
// to a GET of the manifest (capped by the transport) when HEAD fails, as
// some registries refuse HEAD.
func headOrGet(ref name.Reference, opts []remote.Option) (string, int64, error) {
	desc, err := remote.Head(ref, opts...)
	if err == nil {
		return desc.Digest.String(), desc.Size, nil
	}
	full, gerr := remote.Get(ref, opts...)
	if gerr != nil {
		return "", 0, gerr
	}
	return full.Digest.String(), full.Size, nil
}

// Fetch resolves the reference, returns source.ErrUnchanged when the
// revision equals last, calls the Verifier if any, then writes the
// selected layer into dir (extracted, or copied as LayerSelector.CopyName).
// The Snapshot's Metadata holds the manifest's annotations (among them
// SourceAnnotation, RevisionAnnotation and CreatedAnnotation). dir must be
// empty or absent; a failed fetch leaves nothing in it.
func (r *Repository) Fetch(ctx context.Context, dir, last string) (source.Snapshot, error) {
	red := r.Client.redactor()
	repo, err := r.check()
	if err != nil {
		return source.Snapshot{}, source.NewError(origin, "fetch", r.displayRef(""), red, source.ErrInvalid, err.Error())
	}
	opts, release, err := r.Client.remoteOptions(ctx)
	defer release()
	if err != nil {
		return source.Snapshot{}, classify(ctx, "fetch", r.displayRef(""), err, red)
	}
	res, size, err := r.resolve(ctx, repo, opts, red)
	if err != nil {
		return source.Snapshot{}, err
	}
	display := r.displayRef(res.Tag)
	if last != "" && source.RevisionsEqual(last, res.Revision) {
		return source.Snapshot{Revision: res.Revision}, source.ErrUnchanged
	}
	if size > r.Client.maxManifest() {
		return source.Snapshot{}, &Error{Origin: origin, Op: "fetch", Subject: red.Redact(display), Cause: ErrTooLarge,
			Detail: fmt.Sprintf("manifest %s of %d bytes is larger than the cap of %d: %v", res.Digest, size, r.Client.maxManifest(), ErrTooLarge)}
	}
	if r.Verify != nil {
		err := r.Verify.Verify(ctx, VerifyTarget{Reference: res.Reference, Digest: res.Digest, Tag: res.Tag, Remote: opts})
		if err != nil {
			e := newError("verify", display, red, source.ErrVerification, "artifact %s: %v", res.Digest, err)
			if ctx.Err() != nil {
				e.Cause = ctx.Err()
			}
			return source.Snapshot{}, e
		}
	}
	img, err := remote.Image(repo.Digest(res.Digest), opts...)
	if err != nil {
		return source.Snapshot{}, classify(ctx, "fetch", display, err, red)
	}
	manifest, err := img.Manifest()
	if err != nil {
		return source.Snapshot{}, classify(ctx, "fetch", display, err, red)
	}
	layer, err := r.selectLayer(manifest)
	if err != nil {
		return source.Snapshot{}, newError("fetch", display, red, source.ErrRefNotFound, "%v", err)
	}
	if err := r.writeLayer(ctx, img, layer, dir); err != nil {
		return source.Snapshot{}, classify(ctx, "fetch", display, err, red)
	}
	var meta map[string]string
	if len(manifest.Annotations) > 0 {
		meta = make(map[string]string, len(manifest.Annotations))
		for k, v := range manifest.Annotations {
			meta[k] = v
		}
	}
	return source.Snapshot{Revision: res.Revision, Metadata: meta}, nil
}

// selectLayer picks the layer descriptor.
func (r *Repository) selectLayer(m *v1.Manifest) (v1.Descriptor, error) {
	if len(m.Layers) == 0 {
		return v1.Descriptor{}, errors.New("the artifact has no layers")
	}
	if r.Layer.MediaType == "" {
		return m.Layers[0], nil
	}
	for _, l := range m.Layers {
		if string(l.MediaType) == r.Layer.MediaType {
			return l, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("the artifact has no layer of media type %q", r.Layer.MediaType)
}

// writeLayer downloads the layer into a temporary file next to dir,
// verifying its size and digest while it streams, then extracts or moves
// it into dir.
func (r *Repository) writeLayer(ctx context.Context, img v1.Image, desc v1.Descriptor, dir string) error {
	max := r.MaxLayerSize
	if max == 0 {
		max = DefaultMaxLayerSize
	}
	if max > 0 && desc.Size > max {
		return fmt.Errorf("layer %s of %d bytes is larger than the cap of %d: %w", desc.Digest, desc.Size, max, ErrTooLarge)
	}
	if desc.Size < 0 {
		return &verificationError{msg: fmt.Sprintf("layer %s has a negative size", desc.Digest)}
	}
	layer, err := img.LayerByDigest(desc.Digest)
	if err != nil {
		return err
	}
	rc, err := layer.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(parent, ".tmp-oci-layer-*")
	if err != nil {
		return err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	dg, err := artifact.NewDigester(desc.Digest.Algorithm)
	if err != nil {
		return &verificationError{msg: fmt.Sprintf("layer digest algorithm %q is not supported", desc.Digest.Algorithm)}
	}
	n, err := io.Copy(io.MultiWriter(tmp, dg), &ctxReader{ctx: ctx, r: io.LimitReader(rc, desc.Size+1)})
	if err != nil {
		if errors.Is(err, ctx.Err()) && ctx.Err() != nil {
			return err
		}
		return &verificationError{msg: fmt.Sprintf("layer %s: %v", desc.Digest, err)}
	}
	if n != desc.Size {
		return &verificationError{msg: fmt.Sprintf("layer %s: read %d bytes, the manifest says %d", desc.Digest, n, desc.Size)}
	}
	if got := dg.Digest(); got != desc.Digest.String() {
		return &verificationError{msg: fmt.Sprintf("layer digest mismatch: got %s, want %s", got, desc.Digest)}
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if r.Layer.Operation == LayerCopy {
		return r.copyLayer(tmp, dir)
	}
	opts := r.Unpack
	opts.SkipLinks = true
	_, err = artifact.Unpack(ctx, tmp, dir, opts)
	return err
}

// copyLayer moves the verified blob into dir.
func (r *Repository) copyLayer(tmp *os.File, dir string) error {
	name := r.Layer.CopyName
	if name == "" {
		name = DefaultCopyName
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	if err := tmp.Chmod(0o640); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, name))
}

// ctxReader stops reading when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
