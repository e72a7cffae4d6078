package imagepolicy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/adler32"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

func TestParseImage(t *testing.T) {
	for in, want := range map[string]string{
		"alpine":                         "index.docker.io/library/alpine",
		"docker.io/alpine":               "index.docker.io/library/alpine",
		"index.docker.io/library/alpine": "index.docker.io/library/alpine",
		"ghcr.io/org/app":                "ghcr.io/org/app",
		"localhost:5000/team/app":        "localhost:5000/team/app",
	} {
		img, err := ParseImage(in, false)
		if err != nil || img.Canonical != want || img.Name != in {
			t.Errorf("ParseImage(%q) = %+v, %v; want canonical %q", in, img, err, want)
		}
		if _, err := oci.ParseURL(img.URL(), false); err != nil {
			t.Errorf("source/oci refuses %s: %v", img.URL(), err)
		}
	}
	for _, bad := range []string{"https://ghcr.io/org/app", "alpine:3.20", "ghcr.io/org/app:v1", "app@sha256:" + strings.Repeat("a", 64), "UPPER/case", ""} {
		if _, err := ParseImage(bad, false); !errors.Is(err, source.ErrInvalid) {
			t.Errorf("ParseImage(%q) = %v; want ErrInvalid", bad, err)
		}
	}
}

func pushTags(t *testing.T, reg *ocitest.Registry, repo string, tags ...string) {
	t.Helper()
	for _, tag := range tags {
		if _, err := reg.PushFiles(context.Background(), repo, tag, map[string]string{"f": tag}, oci.PushOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestScanTLSAndAuth(t *testing.T) {
	reg := ocitest.New(t, ocitest.WithTLS(), ocitest.WithBasicAuth("user", "s3cret"))
	tags := []string{"1.0.0", "1.1.0", "2.0.0-rc.1", "sha256-0123.sig", "latest"}
	pushTags(t, reg, "team/app", tags...)
	client := reg.Client()
	img, err := ParseImage(reg.Host+"/team/app", false)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Scan(context.Background(), &client, img, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"latest", "2.0.0-rc.1", "1.1.0", "1.0.0"}
	if !slices.Equal(res.Tags, want) || res.TagCount != 4 || !slices.Equal(res.LatestTags, want) {
		t.Fatalf("scan = %+v; want tags %v", res, want)
	}
	// Flux's revision: Adler-32 of the JSON array of the sorted tags.
	b, _ := json.Marshal(want)
	if wantRev := fmt.Sprint(adler32.Checksum(b)); res.Revision != wantRev {
		t.Fatalf("revision = %s, want %s", res.Revision, wantRev)
	}

	// Wrong credentials fail as source/oci reports them, without the secret.
	bad := client
	bad.Auth = &oci.Auth{Username: "user", Password: "wrong-pass"}
	_, err = Scan(context.Background(), &bad, img, ScanOptions{})
	if !errors.Is(err, source.ErrAuth) || strings.Contains(err.Error(), "wrong-pass") {
		t.Fatalf("scan with bad credentials = %v; want ErrAuth without the password", err)
	}
	// Without the CA, TLS verification fails.
	untrusted := client
	untrusted.TLS = nil
	if _, err := Scan(context.Background(), &untrusted, img, ScanOptions{}); err == nil {
		t.Fatal("scan without the registry's CA succeeded")
	}
}

func TestScanOptions(t *testing.T) {
	reg := ocitest.New(t)
	var tags []string
	for i := range 25 {
		tags = append(tags, fmt.Sprintf("build-%02d", i))
	}
	pushTags(t, reg, "app", append(tags, "x.sig", "keep.sig.not", "tmp-1")...)
	client := reg.Client()
	img, _ := ParseImage(reg.Host+"/app", true)
	ctx := context.Background()

	res, err := Scan(ctx, &client, img, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.TagCount != 27 || len(res.LatestTags) != DefaultLatestTags || res.LatestTags[0] != "tmp-1" || res.LatestTags[1] != "keep.sig.not" {
		t.Fatalf("default scan = %d tags, latest %v", res.TagCount, res.LatestTags)
	}
	res, err = Scan(ctx, &client, img, ScanOptions{ExclusionList: []string{`^tmp-`, `\.sig`}, LatestTags: 3, RevisionFormat: RevisionSHA256})
	if err != nil {
		t.Fatal(err)
	}
	if res.TagCount != 25 || !slices.Equal(res.LatestTags, []string{"build-24", "build-23", "build-22"}) {
		t.Fatalf("scan = %d tags, latest %v", res.TagCount, res.LatestTags)
	}
	if want, _ := TagsRevision(res.Tags, RevisionSHA256); res.Revision != want || !strings.HasPrefix(want, "sha256:") {
		t.Fatalf("revision = %s, want %s", res.Revision, want)
	}
	if res, _ := Scan(ctx, &client, img, ScanOptions{LatestTags: -1}); res.LatestTags != nil {
		t.Fatalf("LatestTags -1 gave %v", res.LatestTags)
	}
	if _, err := Scan(ctx, &client, img, ScanOptions{ExclusionList: []string{"("}}); !errors.Is(err, source.ErrInvalid) {
		t.Fatalf("bad exclusion = %v", err)
	}
	// source/oci's caps apply to the listing.
	capped := client
	capped.MaxTags = 5
	if _, err := Scan(ctx, &capped, img, ScanOptions{}); !errors.Is(err, oci.ErrTooLarge) {
		t.Fatalf("scan over the tag cap = %v; want ErrTooLarge", err)
	}
	// A missing repository is source/oci's not-found error.
	missing, _ := ParseImage(reg.Host+"/nothing", true)
	if _, err := Scan(ctx, &client, missing, ScanOptions{}); !errors.Is(err, source.ErrNotFound) {
		t.Fatalf("scan of a missing repository = %v; want ErrNotFound", err)
	}
	// The revision changes with the tags and only with them.
	before, _ := Scan(ctx, &client, img, ScanOptions{})
	again, _ := Scan(ctx, &client, img, ScanOptions{})
	pushTags(t, reg, "app", "build-99")
	after, _ := Scan(ctx, &client, img, ScanOptions{})
	if before.Revision != again.Revision || before.Revision == after.Revision {
		t.Fatalf("revisions %s %s %s", before.Revision, again.Revision, after.Revision)
	}
}

// countingResolver counts the calls that reach the registry.
type countingResolver struct {
	r Resolver
	n atomic.Int32
}

func (c *countingResolver) Resolve(ctx context.Context, url, ref string) (string, error) {
	c.n.Add(1)
	return c.r.Resolve(ctx, url, ref)
}

func TestLatestRef(t *testing.T) {
	reg := ocitest.New(t)
	pushTags(t, reg, "app", "1.0.0")
	client := reg.Client()
	res := &countingResolver{r: &client}
	img, _ := ParseImage(reg.Host+"/app", true)
	ctx := context.Background()

	ref, err := LatestRef(ctx, res, img, "1.0.0", ReflectNever, nil)
	if err != nil || ref.Digest != "" || res.n.Load() != 0 || ref.String() != img.Name+":1.0.0" {
		t.Fatalf("Never = %+v, %v, %d calls", ref, err, res.n.Load())
	}
	ref, err = LatestRef(ctx, res, img, "1.0.0", ReflectIfNotPresent, nil)
	if err != nil || !strings.HasPrefix(ref.Digest, "sha256:") || res.n.Load() != 1 {
		t.Fatalf("IfNotPresent = %+v, %v", ref, err)
	}
	if ref.String() != img.Name+":1.0.0@"+ref.Digest {
		t.Fatalf("String = %s", ref.String())
	}
	first := ref
	// The tag moves to another image: IfNotPresent keeps the old digest,
	// Always sees the new one.
	pushTags(t, reg, "app", "2.0.0")
	d2, _ := client.Resolve(ctx, img.URL(), "2.0.0")
	if err := client.Tag(ctx, img.URL(), d2, "1.0.0"); err != nil {
		t.Fatal(err)
	}
	ref, err = LatestRef(ctx, res, img, "1.0.0", ReflectIfNotPresent, &first)
	if err != nil || ref.Digest != first.Digest || res.n.Load() != 1 {
		t.Fatalf("IfNotPresent again = %+v, %v, %d calls", ref, err, res.n.Load())
	}
	ref, err = LatestRef(ctx, res, img, "1.0.0", ReflectAlways, &first)
	if err != nil || ref.Digest != d2 || res.n.Load() != 2 {
		t.Fatalf("Always = %+v, %v; want %s", ref, err, d2)
	}
	// A new tag under IfNotPresent is resolved.
	ref, err = LatestRef(ctx, res, img, "2.0.0", ReflectIfNotPresent, &first)
	if err != nil || ref.Digest != d2 || res.n.Load() != 3 {
		t.Fatalf("IfNotPresent new tag = %+v, %v", ref, err)
	}
	if _, err := LatestRef(ctx, res, img, "9.9.9", ReflectAlways, nil); !errors.Is(err, source.ErrRefNotFound) {
		t.Fatalf("missing tag = %v; want ErrRefNotFound", err)
	}
	if _, err := LatestRef(ctx, res, img, "1.0.0", "Sometimes", nil); !errors.Is(err, source.ErrInvalid) {
		t.Fatalf("bad mode = %v", err)
	}
}

func TestNewestPushedFromRegistry(t *testing.T) {
	reg := ocitest.New(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	created := map[string]time.Time{"blue": t0.Add(2 * time.Hour), "green": t0.Add(5 * time.Hour), "red": t0}
	for tag, when := range created {
		img, err := mutate.CreatedAt(empty.Image, v1.Time{Time: when})
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := name.ParseReference(reg.Host+"/app:"+tag, name.Insecure)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	client := reg.Client()
	image, _ := ParseImage(reg.Host+"/app", true)
	ctx := context.Background()
	res, err := Scan(ctx, &client, image, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	times, err := PushTimes(ctx, &client, image, res.Tags) // *oci.Client reads image configs
	if err != nil {
		t.Fatal(err)
	}
	for tag, when := range created {
		if !times[tag].Equal(when) {
			t.Fatalf("time of %s = %v, want %v", tag, times[tag], when)
		}
	}
	got, err := Select(Policy{NewestPushed: &NewestPushedPolicy{Pushed: times}}, res.Tags)
	if err != nil || got != "green" {
		t.Fatalf("newest pushed = %q, %v; want green (alphabetical would pick red)", got, err)
	}
}

// failingLister is a TagLister whose registry is down.
type failingLister struct{}

func (failingLister) ListTags(context.Context, string) ([]string, error) {
	return nil, &source.Error{Kind: source.ErrNetwork}
}

func TestScanErrors(t *testing.T) {
	img, _ := ParseImage("ghcr.io/org/app", false)
	if _, err := Scan(context.Background(), failingLister{}, img, ScanOptions{}); !errors.Is(err, source.ErrNetwork) {
		t.Fatalf("scan = %v; want ErrNetwork", err)
	}
	if _, err := Scan(context.Background(), failingLister{}, Image{}, ScanOptions{}); !errors.Is(err, source.ErrInvalid) {
		t.Fatalf("scan of a zero Image = %v; want ErrInvalid", err)
	}
}
