package imagepolicy_test

import (
	"context"
	"fmt"

	"github.com/gitopskit/gitopskit/imagepolicy"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// Select picks a tag as Flux's ImagePolicy does; here a semver range over
// tags filtered and extracted from build tags.
func ExampleSelect() {
	tags := []string{"1.0.0", "1.1.0", "1.2.0-rc.1", "2.0.0", "latest", "v1.1.9"}
	tag, err := imagepolicy.Select(imagepolicy.Policy{
		SemVer: &imagepolicy.SemVerPolicy{Range: ">=1.0.0 <2.0.0"},
	}, tags)
	fmt.Println(tag, err)

	builds := []string{"main-a1b2c3-1700000100", "main-d4e5f6-1700000300", "pr-9-1700000900"}
	tag, err = imagepolicy.Select(imagepolicy.Policy{
		Numerical:  &imagepolicy.OrderPolicy{Order: imagepolicy.OrderAsc},
		FilterTags: &imagepolicy.FilterTags{Pattern: `^main-[a-f0-9]+-(?P<ts>\d+)$`, Extract: "$ts"},
	}, builds)
	fmt.Println(tag, err)

	_, err = imagepolicy.Select(imagepolicy.Policy{
		SemVer: &imagepolicy.SemVerPolicy{Range: ">=3.0.0"},
	}, tags)
	fmt.Println(err)
	// Output:
	// v1.1.9 <nil>
	// main-d4e5f6-1700000300 <nil>
	// semver policy selected no tag among 6 (6 after filtering): none of the 5 semantic versions satisfies the range ">=3.0.0"
}

// Scan lists a repository's tags through an oci.Client (here the one of an
// in-process registry), then a policy selects one and LatestRef reflects
// its digest.
func ExampleScan() {
	reg := ocitest.Start()
	defer reg.Close()
	ctx := context.Background()
	for _, tag := range []string{"1.0.0", "1.1.0", "sha256-abc.sig"} {
		if _, err := reg.PushFiles(ctx, "app", tag, map[string]string{"f": tag}, oci.PushOptions{}); err != nil {
			fmt.Println(err)
			return
		}
	}
	client := reg.Client()

	image, err := imagepolicy.ParseImage(reg.Host+"/app", true)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := imagepolicy.Scan(ctx, &client, image, imagepolicy.ScanOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.TagCount, res.LatestTags)

	tag, err := imagepolicy.Select(imagepolicy.Policy{SemVer: &imagepolicy.SemVerPolicy{Range: "1.x"}}, res.Tags)
	if err != nil {
		fmt.Println(err)
		return
	}
	ref, err := imagepolicy.LatestRef(ctx, &client, image, tag, imagepolicy.ReflectAlways, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ref.Tag, len(ref.Digest))
	// Output:
	// 2 [1.1.0 1.0.0]
	// 1.1.0 71
}
