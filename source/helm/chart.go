package helm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/gitopskit/gitopskit/source"
)

// Result describes a packaged chart written by Chart, OCIChart or Build.
type Result struct {
	// Name and Version are the chart's, Version with the build metadata
	// set by VersionMetadata if any: the revision, in Flux's format.
	Name, Version string
	// File is the packaged chart's file name in the directory,
	// "<name>-<version>.tgz".
	File string
	// Digest is the packaged chart's digest, "sha256:<hex>".
	Digest string
	// ValuesFiles are the values files merged into values.yaml, missing
	// ones left out (Flux's status.observedValuesFiles).
	ValuesFiles []string
	// Packaged is true when the chart was packaged here (built from a
	// directory, or repackaged with merged values or a new version), false
	// when the downloaded chart was written as it was.
	Packaged bool
	// Dependencies is the number of dependencies that were resolved and
	// added to the chart by Build.
	Dependencies int
}

// snapshot turns a Result into a source.Snapshot.
func (r Result) snapshot() source.Snapshot {
	meta := map[string]string{"name": r.Name, "version": r.Version, "file": r.File, "digest": r.Digest}
	if len(r.ValuesFiles) > 0 {
		meta["valuesFiles"] = strings.Join(r.ValuesFiles, ",")
	}
	return source.Snapshot{Revision: r.Version, Metadata: meta}
}

// ChartOptions are what a chart pull may change in the chart, shared by
// Chart and OCIChart. The zero value writes the chart as it is.
type ChartOptions struct {
	// ValuesFiles are files inside the chart (paths from its root,
	// "values.yaml" among them if wanted) merged in order into its
	// values.yaml, which they replace; when none is found (with
	// IgnoreMissingValuesFiles) values.yaml is left empty, as Flux leaves
	// it.
	ValuesFiles []string
	// IgnoreMissingValuesFiles skips missing values files instead of
	// failing.
	IgnoreMissingValuesFiles bool
	// VersionMetadata, when set, replaces the chart version's build
	// metadata (see VersionMetadata: Flux sets the generation when values
	// files are given).
	VersionMetadata string
	// Limits cap the chart.
	Limits Limits
}

// Chart is a chart in an HTTP(S) repository: configure it, then call
// Fetch (or Pull). It implements source.Fetcher.
type Chart struct {
	// Repository is where the chart is looked up.
	Repository *Repository
	// Name is the chart's name in the index.
	Name string
	// Version is a SemVer range; empty means "*", the highest stable
	// version.
	Version string
	// Options change the pulled chart.
	Options ChartOptions
}

var _ source.Fetcher = (*Chart)(nil)

// Fetch looks the chart up in the repository's index (through its
// Cache, if any), and writes the packaged chart into dir as
// "<name>-<version>.tgz". The revision is the chart's version (with
// Options.VersionMetadata), as Flux's HelmChart reports it; when it
// equals last, Fetch returns source.ErrUnchanged without downloading the
// chart. The downloaded chart must match the index's digest (when it
// lists one), name and version. The Snapshot's Metadata holds "name",
// "version", "file", "digest" and, when values files were merged,
// "valuesFiles" (comma separated).
func (c *Chart) Fetch(ctx context.Context, dir, last string) (source.Snapshot, error) {
	res, err := c.pull(ctx, dir, last)
	if err != nil {
		return res.snapshot(), err
	}
	return res.snapshot(), nil
}

// Pull is Fetch returning the typed Result.
func (c *Chart) Pull(ctx context.Context, dir string) (Result, error) {
	return c.pull(ctx, dir, "")
}

func (c *Chart) pull(ctx context.Context, dir, last string) (Result, error) {
	if c.Repository == nil {
		return Result{}, newError("get", c.Name, nil, source.ErrInvalid, "chart has no repository")
	}
	repo := c.Repository
	red := repo.Client.redactor()
	subject := repo.subject() + " chart " + c.Name
	ix, err := repo.Index(ctx)
	if err != nil {
		return Result{}, err
	}
	cv, err := ix.Get(c.Name, c.Version)
	if err != nil {
		return Result{}, classify(ctx, "get", subject, err, red)
	}
	version, err := withMetadata(cv.Version, c.Options.VersionMetadata)
	if err != nil {
		return Result{}, classify(ctx, "metadata", subject, err, red)
	}
	if last != "" && last == version {
		return Result{Name: cv.Name, Version: version, File: ChartFileName(cv.Name, version)}, source.ErrUnchanged
	}
	data, err := repo.downloadChart(ctx, cv, c.Options.Limits)
	if err != nil {
		return Result{}, classify(ctx, "download", subject+" "+cv.Version, err, red)
	}
	res, err := finishChart(data, dir, cv.Name, cv.Version, c.Options)
	if err != nil {
		return Result{}, classify(ctx, "download", subject+" "+cv.Version, err, red)
	}
	return res, nil
}

// downloadChart downloads a chart version's archive with the chart cap
// and checks it against the index's digest.
func (r *Repository) downloadChart(ctx context.Context, cv *ChartVersion, l Limits) ([]byte, error) {
	u, err := ResolveURL(r.URL, cv.URLs[0])
	if err != nil {
		return nil, err
	}
	hc, release, err := r.Client.httpClient()
	defer release()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := r.Client.get(ctx, hc, u, r.URL, l.chart(), &buf); err != nil {
		return nil, err
	}
	if cv.Digest != "" {
		sum := sha256.Sum256(buf.Bytes())
		got := hex.EncodeToString(sum[:])
		want := strings.TrimPrefix(strings.ToLower(cv.Digest), "sha256:")
		if got != want {
			return nil, staged("verify", errorf(source.ErrVerification, "chart %s digest mismatch: got sha256:%s, the index says sha256:%s", cv, got, want))
		}
	}
	return buf.Bytes(), nil
}

// finishChart loads a downloaded archive (checking its caps and that it
// is the chart wantName at wantVersion, as the index or the tag says),
// applies the options and writes it into dir.
func finishChart(data []byte, dir, wantName, wantVersion string, o ChartOptions) (Result, error) {
	files, err := readArchive(bytes.NewReader(data), o.Limits)
	if err != nil {
		return Result{}, err
	}
	ch, err := loadChart(files, o.Limits, 0)
	if err != nil {
		return Result{}, err
	}
	if ch.meta.Name != wantName || !sameVersion(ch.meta.Version, wantVersion) {
		return Result{}, errorf(ErrInvalidChart, "the archive holds chart %s %s, not %s %s", ch.meta.Name, ch.meta.Version, wantName, wantVersion)
	}
	res := Result{Name: ch.meta.Name}
	version, err := withMetadata(ch.meta.Version, o.VersionMetadata)
	if err != nil {
		return Result{}, staged("metadata", err)
	}
	repack := version != ch.meta.Version
	if len(o.ValuesFiles) > 0 {
		used, err := ch.mergeValuesFiles(o.ValuesFiles, o.IgnoreMissingValuesFiles, func(name string) ([]byte, bool, error) {
			d, ok := ch.files[path.Clean(filepath.ToSlash(name))]
			return d, ok, nil
		})
		if err != nil {
			return Result{}, staged("values", err)
		}
		res.ValuesFiles = used
		repack = true
	}
	if err := ch.setVersion(version); err != nil {
		return Result{}, staged("metadata", err)
	}
	res.Version = version
	if repack {
		var buf bytes.Buffer
		if err := ch.writeArchive(&buf); err != nil {
			return Result{}, staged("package", err)
		}
		data = buf.Bytes()
		res.Packaged = true
	}
	res.File = ChartFileName(res.Name, res.Version)
	res.Digest = digestOf(data)
	if err := writeFileAtomic(dir, res.File, data); err != nil {
		return Result{}, staged("package", err)
	}
	return res, nil
}

// sameVersion reports whether two SemVer versions are the same, build
// metadata included ("v1.0.0" is "1.0.0").
func sameVersion(a, b string) bool {
	if a == b {
		return true
	}
	va, errA := semver.NewVersion(a)
	vb, errB := semver.NewVersion(b)
	return errA == nil && errB == nil && va.Equal(vb) && va.Metadata() == vb.Metadata()
}
