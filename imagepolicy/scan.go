package imagepolicy

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash/adler32"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// DefaultExclusionList is the exclusion list Flux applies when an
// ImageRepository sets none: cosign's legacy signature tags.
var DefaultExclusionList = []string{`^.*\.sig$`}

// DefaultLatestTags is how many tags a ScanResult lists by default, as
// Flux's status.lastScanResult.latestTags.
const DefaultLatestTags = 10

// maxImageLength caps the length of an image name.
const maxImageLength = 4096

// Image is a parsed image repository name, as an ImageRepository's
// spec.image holds it.
type Image struct {
	// Name is the name as given ("alpine", "ghcr.io/org/app").
	Name string
	// Canonical is the canonical name Flux reports in
	// status.canonicalImageName ("index.docker.io/library/alpine").
	Canonical string
	// Insecure marks the registry as reachable over plain HTTP.
	Insecure bool
}

// ParseImage parses an image repository name: no scheme, no tag, no
// digest, as Flux's ImageRepository requires. insecure allows plain HTTP
// (the oci.Client must also set Insecure). A malformed name wraps
// source.ErrInvalid.
func ParseImage(image string, insecure bool) (img Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = Image{}, invalidf("image %q does not parse: %v", image, r)
		}
	}()
	if len(image) > maxImageLength {
		return Image{}, invalidf("image name is longer than %d bytes", maxImageLength)
	}
	if scheme, _, ok := strings.Cut(image, "://"); ok {
		return Image{}, invalidf("image %q should not include URL scheme; remove '%s://'", image, scheme)
	}
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(image, opts...)
	if err != nil {
		return Image{}, invalidf("image %q is not a valid image name: %v", image, err)
	}
	rest := strings.TrimPrefix(image, ref.Context().RegistryStr())
	if _, tag, ok := strings.Cut(rest, ":"); ok {
		return Image{}, invalidf("image %q should not include a tag or digest; remove ':%s'", image, tag)
	}
	if strings.Contains(rest, "@") {
		return Image{}, invalidf("image %q should not include a digest", image)
	}
	return Image{Name: image, Canonical: ref.Context().String(), Insecure: insecure}, nil
}

// URL returns the address source/oci takes for the repository:
// "oci://" and the canonical name.
func (i Image) URL() string { return "oci://" + i.Canonical }

// TagLister lists the tags of a repository at an oci:// address.
// *oci.Client implements it, with its paging and caps.
type TagLister interface {
	ListTags(ctx context.Context, url string) ([]string, error)
}

// RevisionFormat is how a ScanResult's revision is computed.
type RevisionFormat string

const (
	// RevisionAdler32 is the Adler-32 checksum, in decimal, of the JSON
	// array of the tags: the revision Flux's default (BadgerDB) tag store
	// reports.
	RevisionAdler32 RevisionFormat = "adler32"
	// RevisionSHA256 is "sha256:<hex>" of the tags, one per line each
	// ending in a newline: the revision of Flux's FluxStorage feature gate.
	RevisionSHA256 RevisionFormat = "sha256"
)

// ScanOptions tunes Scan. The zero value is Flux's behaviour.
type ScanOptions struct {
	// ExclusionList holds regular expressions; a tag matching any is
	// dropped. Empty means DefaultExclusionList.
	ExclusionList []string
	// LatestTags is how many tags ScanResult.LatestTags holds; 0 means
	// DefaultLatestTags, a negative value none.
	LatestTags int
	// RevisionFormat is the revision's format; empty means
	// RevisionAdler32.
	RevisionFormat RevisionFormat
}

// ScanResult is the outcome of a scan, with the fields of Flux's
// status.lastScanResult.
type ScanResult struct {
	// Image is the repository scanned.
	Image Image
	// Tags are the tags kept, in descending string order.
	Tags []string
	// Revision identifies the tag list (RevisionFormat): it changes when
	// the tags do.
	Revision string
	// TagCount is len(Tags).
	TagCount int
	// LatestTags are the first tags in descending string order.
	LatestTags []string
	// ScanTime is when the listing finished.
	ScanTime time.Time
}

// Scan lists the tags of image through l, drops the excluded ones and
// returns the result. An invalid exclusion pattern wraps
// source.ErrInvalid; listing errors are returned as l reports them
// (source/oci's *source.Error values).
func Scan(ctx context.Context, l TagLister, image Image, opts ScanOptions) (ScanResult, error) {
	excl, err := compileExclusions(opts.ExclusionList)
	if err != nil {
		return ScanResult{}, err
	}
	if image.Canonical == "" {
		return ScanResult{}, invalidf("image has no canonical name; use ParseImage")
	}
	tags, err := l.ListTags(ctx, image.URL())
	if err != nil {
		return ScanResult{}, fmt.Errorf("scanning %s: %w", image.Canonical, err)
	}
	return NewScanResult(image, ExcludeTags(tags, excl), opts)
}

// NewScanResult builds the result of a scan from the tags kept (it sorts
// them in place).
func NewScanResult(image Image, tags []string, opts ScanOptions) (ScanResult, error) {
	if tags == nil {
		tags = []string{}
	}
	SortTags(tags)
	rev, err := TagsRevision(tags, opts.RevisionFormat)
	if err != nil {
		return ScanResult{}, err
	}
	n := opts.LatestTags
	if n == 0 {
		n = DefaultLatestTags
	}
	var latest []string
	if n > 0 && len(tags) > 0 {
		latest = append([]string(nil), tags[:min(n, len(tags))]...)
	}
	return ScanResult{
		Image:      image,
		Tags:       tags,
		Revision:   rev,
		TagCount:   len(tags),
		LatestTags: latest,
		ScanTime:   time.Now(),
	}, nil
}

func compileExclusions(list []string) ([]*regexp.Regexp, error) {
	if len(list) == 0 {
		list = DefaultExclusionList
	}
	out := make([]*regexp.Regexp, 0, len(list))
	for _, p := range list {
		r, err := regexp.Compile(p)
		if err != nil {
			return nil, invalidf("exclusion pattern %q is invalid: %v", p, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// ExcludeTags returns the tags that match none of the patterns, in order.
func ExcludeTags(tags []string, exclude []*regexp.Regexp) []string {
	out := make([]string, 0, len(tags))
next:
	for _, t := range tags {
		for _, r := range exclude {
			if r.MatchString(t) {
				continue next
			}
		}
		out = append(out, t)
	}
	return out
}

// TagsRevision computes the revision of a tag list (in the order given;
// Scan sorts it first) in the given format (empty means RevisionAdler32).
func TagsRevision(tags []string, format RevisionFormat) (string, error) {
	switch format {
	case "", RevisionAdler32:
		if tags == nil {
			tags = []string{}
		}
		b, err := json.Marshal(tags)
		if err != nil {
			return "", fmt.Errorf("encoding tags: %w", err)
		}
		return fmt.Sprintf("%d", adler32.Checksum(b)), nil
	case RevisionSHA256:
		h := sha256.New()
		for _, t := range tags {
			h.Write([]byte(t))
			h.Write([]byte{'\n'})
		}
		return fmt.Sprintf("sha256:%x", h.Sum(nil)), nil
	}
	return "", invalidf("revision format %q is unknown", string(format))
}

// CreatedReader reads when the image a tag names was created (its config's
// "created" field).
type CreatedReader interface {
	Created(ctx context.Context, url, tag string) (time.Time, error)
}

// PushTimes reads the creation time of each tag's image through r, for
// the NewestPushed policy. It makes one call per tag, so filter the tags
// first. Tags whose image has no creation time are left out; a read error
// stops it.
func PushTimes(ctx context.Context, r CreatedReader, image Image, tags []string) (map[string]time.Time, error) {
	out := make(map[string]time.Time, len(tags))
	for _, t := range tags {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		created, err := r.Created(ctx, image.URL(), t)
		if err != nil {
			return nil, fmt.Errorf("reading the creation time of %s:%s: %w", image.Canonical, t, err)
		}
		if !created.IsZero() {
			out[t] = created
		}
	}
	return out, nil
}
