package imagepolicy

import (
	"context"
	"fmt"
)

// DigestReflection is an ImagePolicy's spec.digestReflectionPolicy.
type DigestReflection string

const (
	// ReflectNever leaves the digest out (the zero value).
	ReflectNever DigestReflection = "Never"
	// ReflectIfNotPresent resolves the digest when the selected tag
	// changed or no digest is known, and keeps the previous one otherwise.
	ReflectIfNotPresent DigestReflection = "IfNotPresent"
	// ReflectAlways resolves the digest on every call, so a tag moved to a
	// new image is noticed.
	ReflectAlways DigestReflection = "Always"
)

// Resolver resolves a tag of the repository at an oci:// address to its
// manifest digest ("sha256:<hex>"). *oci.Client implements it.
type Resolver interface {
	Resolve(ctx context.Context, url, ref string) (string, error)
}

// ImageRef is an ImagePolicy's status.latestRef.
type ImageRef struct {
	// Name is the image name as the ImageRepository gives it.
	Name string `json:"name"`
	// Tag is the selected tag.
	Tag string `json:"tag"`
	// Digest is the manifest digest, when reflected.
	Digest string `json:"digest,omitempty"`
}

// String returns "name:tag", or "name:tag@digest" with a digest, as Flux
// writes the full image reference.
func (r ImageRef) String() string {
	s := r.Name + ":" + r.Tag
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// LatestRef returns the reference an ImagePolicy reports for the selected
// tag, resolving the digest through r as mode asks; previous is the last
// reported reference (nil when none). r may be nil with ReflectNever.
func LatestRef(ctx context.Context, r Resolver, image Image, tag string, mode DigestReflection, previous *ImageRef) (ImageRef, error) {
	ref := ImageRef{Name: image.Name, Tag: tag}
	fetch := false
	switch mode {
	case "", ReflectNever:
	case ReflectIfNotPresent:
		fetch = previous == nil || previous.Name != ref.Name || previous.Tag != ref.Tag || previous.Digest == ""
		if !fetch {
			ref.Digest = previous.Digest
		}
	case ReflectAlways:
		fetch = true
	default:
		return ImageRef{}, invalidf("digest reflection policy %q is unknown, must be one of: Never, IfNotPresent, Always", string(mode))
	}
	if fetch {
		if r == nil {
			return ImageRef{}, invalidf("digest reflection %s needs a resolver", mode)
		}
		d, err := r.Resolve(ctx, image.URL(), tag)
		if err != nil {
			return ImageRef{}, fmt.Errorf("resolving the digest of %s: %w", ref.String(), err)
		}
		ref.Digest = d
	}
	return ref, nil
}
