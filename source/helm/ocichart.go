package helm

import (
	"context"

	"github.com/Masterminds/semver/v3"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/oci"
)

// OCIChart is a chart in an OCI registry (a HelmRepository of type
// "oci"): configure it, then call Fetch (or Pull). It implements
// source.Fetcher. The registry is read through source/oci: its Client
// (static credentials, Docker config keychains, TLS, proxy, plain HTTP
// only when asked), its caps and its Verifier (cosign, see
// source/oci/cosignverify) serve charts as they serve other artifacts.
type OCIChart struct {
	// URL is the repository holding the chart, "oci://host[:port]/path";
	// the chart is at URL + "/" + Name.
	URL string
	// Name is the chart's name.
	Name string
	// Version is a SemVer range over the tags (where "_" stands for "+",
	// as Helm writes them); empty means "*", the highest stable version.
	// An exact version ("1.2.3", "1.2.3+build") is read from its tag
	// without listing the tags, as Flux reads it.
	Version string
	// Client says how to reach the registry.
	Client oci.Client
	// Verify, when set, checks the chart's signature before it is
	// downloaded.
	Verify oci.Verifier
	// Options change the pulled chart.
	Options ChartOptions
}

var _ source.Fetcher = (*OCIChart)(nil)

// Ref returns the chart's OCI reference, "oci://host/path/name".
func (c *OCIChart) Ref() string {
	return strings.TrimSuffix(c.URL, "/") + "/" + c.Name
}

// Fetch resolves the version over the chart's tags and writes the
// packaged chart into dir as "<name>-<version>.tgz". The revision is the
// chart version (with Options.VersionMetadata), as Flux reports it; when it
// equals last, Fetch returns source.ErrUnchanged without downloading the
// chart. The Snapshot's Metadata is Chart.Fetch's plus "ociDigest", the
// manifest digest.
func (c *OCIChart) Fetch(ctx context.Context, dir, last string) (source.Snapshot, error) {
	res, digest, err := c.pull(ctx, dir, last)
	snap := res.snapshot()
	if digest != "" {
		snap.Metadata["ociDigest"] = digest
	}
	return snap, err
}

// Pull is Fetch returning the typed Result.
func (c *OCIChart) Pull(ctx context.Context, dir string) (Result, error) {
	res, _, err := c.pull(ctx, dir, "")
	return res, err
}

func (c *OCIChart) pull(ctx context.Context, dir, last string) (Result, string, error) {
	subject := source.RedactURL(c.Ref())
	if c.Name == "" || strings.ContainsAny(c.Name, "/:@") {
		return Result{}, "", newError("get", subject, nil, source.ErrInvalid, "chart name %q is not a plain name", c.Name)
	}
	ref := oci.Reference{SemVer: c.Version}
	if c.Version == "" {
		ref.SemVer = "*"
	} else if _, err := semver.StrictNewVersion(c.Version); err == nil {
		// An exact version is its tag: no tag list, as in Flux.
		ref = oci.Reference{Tag: strings.ReplaceAll(c.Version, "+", "_")}
	}
	repo := &oci.Repository{
		URL:          c.Ref(),
		Ref:          ref,
		Layer:        oci.LayerSelector{MediaType: oci.HelmChartLayerMediaType, Operation: oci.LayerCopy, CopyName: "chart.tgz"},
		Client:       c.Client,
		Verify:       c.Verify,
		MaxLayerSize: c.Options.Limits.chart(),
	}
	resolved, err := repo.Resolve(ctx)
	if err != nil {
		return Result{}, "", err
	}
	tagVersion := strings.ReplaceAll(resolved.Tag, "_", "+")
	version, err := withMetadata(tagVersion, c.Options.VersionMetadata)
	if err != nil {
		return Result{}, "", classify(ctx, "metadata", subject, err, nil)
	}
	if last != "" && last == version {
		return Result{Name: c.Name, Version: version, File: ChartFileName(c.Name, version)}, resolved.Digest, source.ErrUnchanged
	}
	repo.Ref = oci.Reference{Digest: resolved.Digest}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o750); err != nil {
		return Result{}, "", classify(ctx, "download", subject, err, nil)
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-helm-oci-*")
	if err != nil {
		return Result{}, "", classify(ctx, "download", subject, err, nil)
	}
	defer os.RemoveAll(tmp)
	work := filepath.Join(tmp, "layer")
	if _, err := repo.Fetch(ctx, work, ""); err != nil {
		return Result{}, "", err
	}
	data, err := readFileCapped(filepath.Join(work, "chart.tgz"), capOrMax(c.Options.Limits.chart()))
	if err != nil {
		return Result{}, "", classify(ctx, "download", subject, err, nil)
	}
	res, err := finishChart(data, dir, c.Name, tagVersion, c.Options)
	if err != nil {
		return Result{}, "", classify(ctx, "download", subject, err, nil)
	}
	return res, resolved.Digest, nil
}

func capOrMax(n int64) int64 {
	if n < 0 {
		return 1<<63 - 1
	}
	return n
}
