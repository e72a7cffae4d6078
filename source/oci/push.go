package oci

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/source"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Flux's media types for the artifacts its tools push and pull.
const (
	// ConfigMediaType is the config media type of a Flux artifact.
	ConfigMediaType = "application/vnd.cncf.flux.config.v1+json"
	// ContentMediaType is the layer media type of a Flux artifact: a
	// tar+gzip of the pushed directory.
	ContentMediaType = "application/vnd.cncf.flux.content.v1.tar+gzip"
)

// PushOptions tunes Client.Push. The zero value packs every file, sets no
// source or revision annotation and stamps the current time as created.
type PushOptions struct {
	// Source is the SourceAnnotation value, for example a Git URL.
	Source string
	// Revision is the RevisionAnnotation value, for example
	// "main@sha1:<hex>".
	Revision string
	// Created is the build time (CreatedAnnotation and the config's
	// created field); the zero value means now. Fix it to push the same
	// directory to the same digest twice.
	Created time.Time
	// Annotations are added to the manifest's annotations; they may not
	// replace the three above.
	Annotations map[string]string
	// Pack tunes the packing of the directory (filter, level, symbolic
	// links).
	Pack artifact.PackOptions
}

// PushResult describes a pushed artifact.
type PushResult struct {
	// Digest is the manifest digest "sha256:<hex>".
	Digest string
	// Reference is the digest reference "host/path@sha256:<hex>".
	Reference string
	// Revision is the revision a Fetch of the pushed tag reports.
	Revision string
	// LayerDigest and LayerSize describe the content layer.
	LayerDigest string
	LayerSize   int64
	// Files is the number of regular files packed.
	Files int
}

// Push packs dir (artifact.Pack) and pushes it to the repository at url
// ("oci://host[:port]/path") under tag (DefaultTag when empty) as a Flux
// artifact: an OCI image manifest with ConfigMediaType, one layer of
// ContentMediaType and the source, revision and created annotations, as
// Flux's tools write and read them.
func (c *Client) Push(ctx context.Context, url, tag, dir string, opts PushOptions) (PushResult, error) {
	red := c.redactor()
	if tag == "" {
		tag = DefaultTag
	}
	display := trimURL(url) + ":" + tag
	repo, err := ParseURL(url, c.Insecure)
	if err != nil {
		return PushResult{}, classify(ctx, "push", display, err, red)
	}
	ref, err := name.NewTag(repo.Name()+":"+tag, c.nameOptions()...)
	if err != nil {
		return PushResult{}, newError("push", display, red, source.ErrInvalid, "tag %q is not a valid OCI tag", tag)
	}
	for _, k := range []string{SourceAnnotation, RevisionAnnotation, CreatedAnnotation} {
		if _, ok := opts.Annotations[k]; ok {
			return PushResult{}, newError("push", display, red, source.ErrInvalid, "annotation %s is set through PushOptions", k)
		}
	}
	ropts, release, err := c.remoteOptions(ctx)
	defer release()
	if err != nil {
		return PushResult{}, classify(ctx, "push", display, err, red)
	}
	tmp, err := os.CreateTemp("", "gitopskit-oci-push-*.tgz")
	if err != nil {
		return PushResult{}, newError("push", display, red, nil, "%v", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	packed, err := artifact.Pack(ctx, tmp, dir, opts.Pack)
	if err != nil {
		return PushResult{}, newError("push", display, red, source.ErrInvalid, "%v", err)
	}
	if err := tmp.Close(); err != nil {
		return PushResult{}, newError("push", display, red, nil, "%v", err)
	}
	layer, err := tarball.LayerFromFile(tmp.Name(), tarball.WithMediaType(ContentMediaType), tarball.WithCompressedCaching)
	if err != nil {
		return PushResult{}, newError("push", display, red, nil, "%v", err)
	}
	img, err := fluxImage(layer, opts)
	if err != nil {
		return PushResult{}, newError("push", display, red, nil, "%v", err)
	}
	ld, err := layer.Digest()
	if err != nil || ld.String() != packed.Digest {
		return PushResult{}, newError("push", display, red, nil, "layer digest %v differs from the packed archive's %s", ld, packed.Digest)
	}
	if err := remote.Write(ref, img, ropts...); err != nil {
		return PushResult{}, classify(ctx, "push", display, err, red)
	}
	d, err := img.Digest()
	if err != nil {
		return PushResult{}, newError("push", display, red, nil, "%v", err)
	}
	return PushResult{
		Digest: d.String(), Reference: repo.Digest(d.String()).String(), Revision: source.OCIRevision(tag, d.String()),
		LayerDigest: packed.Digest, LayerSize: packed.Size, Files: packed.Files,
	}, nil
}

// fluxImage assembles the artifact as Flux's push does.
func fluxImage(layer v1.Layer, opts PushOptions) (v1.Image, error) {
	created := opts.Created
	if created.IsZero() {
		created = time.Now()
	}
	created = created.UTC().Truncate(time.Second)
	annotations := map[string]string{CreatedAnnotation: created.Format(time.RFC3339)}
	if opts.Source != "" {
		annotations[SourceAnnotation] = opts.Source
	}
	if opts.Revision != "" {
		annotations[RevisionAnnotation] = opts.Revision
	}
	for k, v := range opts.Annotations {
		annotations[k] = v
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, ConfigMediaType)
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg.Created = v1.Time{Time: created}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return nil, err
	}
	img = mutate.Annotations(img, annotations).(v1.Image)
	return mutate.Append(img, mutate.Addendum{Layer: layer})
}

// trimURL shortens an address for error texts.
func trimURL(url string) string {
	s := url
	if len(s) > 256 {
		s = s[:256] + "..."
	}
	return s
}

// Tag tags the manifest digest ("sha256:<hex>") of the repository at url
// with tag.
func (c *Client) Tag(ctx context.Context, url, digest, tag string) error {
	red := c.redactor()
	display := trimURL(url) + ":" + tag
	repo, err := ParseURL(url, c.Insecure)
	if err != nil {
		return classify(ctx, "tag", display, err, red)
	}
	if _, err := v1.NewHash(digest); err != nil {
		return newError("tag", display, red, source.ErrInvalid, "digest %q is not <algorithm>:<hex>", digest)
	}
	ref, err := name.NewTag(repo.Name()+":"+tag, c.nameOptions()...)
	if err != nil {
		return newError("tag", display, red, source.ErrInvalid, "tag %q is not a valid OCI tag", tag)
	}
	ropts, release, err := c.remoteOptions(ctx)
	defer release()
	if err != nil {
		return classify(ctx, "tag", display, err, red)
	}
	desc, err := remote.Get(repo.Digest(digest), ropts...)
	if err != nil {
		return classify(ctx, "tag", display, err, red)
	}
	if err := remote.Tag(ref, desc, ropts...); err != nil {
		return classify(ctx, "tag", display, err, red)
	}
	return nil
}

// ListTags returns the tags of the repository at url, in the registry's
// order. More than Client.MaxTags tags, or tag-list responses larger than
// Client.MaxTagListSize, fail with an error that wraps ErrTooLarge.
func (c *Client) ListTags(ctx context.Context, url string) ([]string, error) {
	red := c.redactor()
	display := trimURL(url)
	repo, err := ParseURL(url, c.Insecure)
	if err != nil {
		return nil, classify(ctx, "list tags", display, err, red)
	}
	ropts, release, err := c.remoteOptions(ctx)
	defer release()
	if err != nil {
		return nil, classify(ctx, "list tags", display, err, red)
	}
	tags, err := c.listTags(ctx, repo, ropts)
	if err != nil {
		return nil, classify(ctx, "list tags", display, err, red)
	}
	return tags, nil
}

// Resolve returns the manifest digest ("sha256:<hex>") that ref (a tag,
// or a digest to check for existence) names in the repository at url,
// with one HEAD request (a GET of the manifest when HEAD is refused).
func (c *Client) Resolve(ctx context.Context, url, ref string) (string, error) {
	red := c.redactor()
	repo, err := ParseURL(url, c.Insecure)
	sep := ":"
	if _, herr := v1.NewHash(ref); herr == nil {
		sep = "@"
	}
	display := trimURL(url) + sep + ref
	if err != nil {
		return "", classify(ctx, "resolve", display, err, red)
	}
	r, err := name.ParseReference(repo.Name()+sep+ref, c.nameOptions()...)
	if err != nil {
		return "", newError("resolve", display, red, source.ErrInvalid, "%q is neither a valid tag nor a digest", ref)
	}
	ropts, release, err := c.remoteOptions(ctx)
	defer release()
	if err != nil {
		return "", classify(ctx, "resolve", display, err, red)
	}
	d, _, err := headOrGet(r, ropts)
	if err != nil {
		return "", classify(ctx, "resolve", display, err, red)
	}
	return d, nil
}

// Created returns when the image that ref (a tag or a digest) names in the
// repository at url was created, from its config's "created" field; the
// zero time when the config has none or ref names an index (a multi-platform
// image has no single config). It satisfies imagepolicy.CreatedReader.
func (c *Client) Created(ctx context.Context, url, ref string) (time.Time, error) {
	red := c.redactor()
	repo, err := ParseURL(url, c.Insecure)
	sep := ":"
	if _, herr := v1.NewHash(ref); herr == nil {
		sep = "@"
	}
	display := trimURL(url) + sep + ref
	if err != nil {
		return time.Time{}, classify(ctx, "inspect", display, err, red)
	}
	r, err := name.ParseReference(repo.Name()+sep+ref, c.nameOptions()...)
	if err != nil {
		return time.Time{}, newError("inspect", display, red, source.ErrInvalid, "%q is neither a valid tag nor a digest", ref)
	}
	ropts, release, err := c.remoteOptions(ctx)
	defer release()
	if err != nil {
		return time.Time{}, classify(ctx, "inspect", display, err, red)
	}
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return time.Time{}, classify(ctx, "inspect", display, err, red)
	}
	if desc.MediaType.IsIndex() {
		return time.Time{}, nil
	}
	img, err := desc.Image()
	if err != nil {
		return time.Time{}, classify(ctx, "inspect", display, err, red)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return time.Time{}, classify(ctx, "inspect", display, err, red)
	}
	return cfg.Created.Time, nil
}

// String returns the digest reference.
func (p PushResult) String() string { return fmt.Sprintf("%s (%s)", p.Reference, p.Revision) }

// nameOptions are the reference parsing options for c.
func (c *Client) nameOptions() []name.Option {
	if c.Insecure {
		return []name.Option{name.StrictValidation, name.Insecure}
	}
	return []name.Option{name.StrictValidation}
}
