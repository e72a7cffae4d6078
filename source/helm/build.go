package helm

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/oci"
)

// Build packages a chart from a directory, typically an unpacked Git,
// Bucket or OCI artifact, as Flux's HelmChart does with a GitRepository or
// Bucket source: configure it, then call Fetch (or Run). It implements
// source.Fetcher.
type Build struct {
	// Root is the artifact's root directory; every path the build reads
	// (the chart, values files, file:// dependencies) must stay inside
	// it.
	Root string
	// Path is the chart's path from Root: a chart directory or a packaged
	// chart (.tgz).
	Path string
	// ValuesFiles are files (paths from Root) merged in order into the
	// chart's values.yaml, which they replace (the chart's own values.yaml
	// counts only when listed); when none is found (with
	// IgnoreMissingValuesFiles) values.yaml is left empty, as Flux leaves
	// it. A chart without a values.yaml gets one (Flux fails).
	ValuesFiles []string
	// IgnoreMissingValuesFiles skips missing values files instead of
	// failing.
	IgnoreMissingValuesFiles bool
	// VersionMetadata, when set, replaces the chart version's build
	// metadata (see VersionMetadata for Flux's rules).
	VersionMetadata string
	// Repositories returns the repository to read a dependency from, by
	// the URL written in Chart.yaml (its credentials, TLS, cache); nil
	// reads every HTTP repository anonymously.
	Repositories func(ctx context.Context, url string) (*Repository, error)
	// OCIClient returns the client for an oci:// dependency's registry;
	// nil uses the zero oci.Client.
	OCIClient func(ctx context.Context, url string) (oci.Client, error)
	// Limits cap the chart and every dependency.
	Limits Limits
}

var _ source.Fetcher = (*Build)(nil)

// Fetch packages the chart into dir as "<name>-<version>.tgz": a chart
// directory with its dependencies (those of Chart.yaml that charts/ does
// not hold: file:// paths inside Root, HTTP(S) and oci:// repositories)
// and the merged values; a packaged chart as it is, unless values files
// or version metadata change it. The revision is the chart version (with
// VersionMetadata); when it equals last, Fetch returns
// source.ErrUnchanged after reading only Chart.yaml. The Snapshot's
// Metadata is as Chart.Fetch's.
func (b *Build) Fetch(ctx context.Context, dir, last string) (source.Snapshot, error) {
	res, err := b.run(ctx, dir, last)
	return res.snapshot(), err
}

// Run is Fetch returning the typed Result.
func (b *Build) Run(ctx context.Context, dir string) (Result, error) {
	return b.run(ctx, dir, "")
}

func (b *Build) run(ctx context.Context, dir, last string) (Result, error) {
	subject := b.Path
	fail := func(op string, err error) (Result, error) { return Result{}, classify(ctx, op, subject, err, nil) }
	chartPath, err := confine(b.Root, b.Path)
	if err != nil {
		return fail("load", err)
	}
	st, err := os.Stat(chartPath)
	if err != nil {
		return fail("load", errorf(source.ErrRefNotFound, "no chart at path %q", b.Path))
	}
	var ch *chart
	var original []byte
	if st.IsDir() {
		files, err := readDir(b.Root, chartPath, b.Limits)
		if err != nil {
			return fail("load", err)
		}
		if ch, err = loadChart(files, b.Limits, 0); err != nil {
			return fail("load", err)
		}
	} else {
		if original, err = readFileCapped(chartPath, capOrMax(b.Limits.chart())); err != nil {
			return fail("load", err)
		}
		files, err := readArchive(bytes.NewReader(original), b.Limits)
		if err != nil {
			return fail("load", err)
		}
		if ch, err = loadChart(files, b.Limits, 0); err != nil {
			return fail("load", err)
		}
	}
	version, err := withMetadata(ch.meta.Version, b.VersionMetadata)
	if err != nil {
		return fail("metadata", err)
	}
	res := Result{Name: ch.meta.Name, Version: version, File: ChartFileName(ch.meta.Name, version)}
	if last != "" && last == version {
		return res, source.ErrUnchanged
	}
	if len(b.ValuesFiles) > 0 {
		used, err := ch.mergeValuesFiles(b.ValuesFiles, b.IgnoreMissingValuesFiles, b.readValuesFile)
		if err != nil {
			return fail("values", err)
		}
		res.ValuesFiles = used
	}
	if err := ch.setVersion(version); err != nil {
		return fail("metadata", err)
	}
	if st.IsDir() {
		n, err := b.resolveDependencies(ctx, ch, chartPath)
		if err != nil {
			return fail("dependency", err)
		}
		res.Dependencies = n
	}
	data := original
	if st.IsDir() || len(b.ValuesFiles) > 0 || b.VersionMetadata != "" {
		var buf bytes.Buffer
		if err := ch.writeArchive(&buf); err != nil {
			return fail("package", err)
		}
		data = buf.Bytes()
		res.Packaged = true
	}
	res.Digest = digestOf(data)
	if err := writeFileAtomic(dir, res.File, data); err != nil {
		return fail("package", err)
	}
	return res, nil
}

// readValuesFile reads a values file from Root.
func (b *Build) readValuesFile(name string) ([]byte, bool, error) {
	p, err := confine(b.Root, name)
	if err != nil {
		return nil, false, err
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !st.Mode().IsRegular() {
		return nil, false, errorf(source.ErrInvalid, "values file %q is not a regular file", name)
	}
	data, err := readFileCapped(p, capOrMax(b.Limits.file()))
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

// confine joins rel to root, refusing a path that leads outside root,
// by its name or through a symbolic link.
func confine(root, rel string) (string, error) {
	if root == "" {
		return "", errorf(source.ErrInvalid, "build has no root directory")
	}
	if filepath.IsAbs(rel) || strings.HasPrefix(rel, "/") {
		return "", errorf(ErrPathEscape, "path %q is absolute, want a path inside the root", rel)
	}
	clean := path.Clean("/" + filepath.ToSlash(rel))
	if clean != "/"+strings.TrimSuffix(path.Clean(filepath.ToSlash(rel)), "/") && path.Clean(filepath.ToSlash(rel)) != "." {
		return "", errorf(ErrPathEscape, "path %q leads outside the root", rel)
	}
	absRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", errorf(source.ErrInvalid, "root directory: %v", err)
	}
	p := filepath.Join(absRoot, filepath.FromSlash(clean))
	if real, err := filepath.EvalSymlinks(p); err == nil {
		if real != absRoot && !strings.HasPrefix(real, absRoot+string(filepath.Separator)) {
			return "", errorf(ErrPathEscape, "path %q leads outside the root through a symbolic link", rel)
		}
		return real, nil
	}
	return p, nil
}

// readDir reads a chart directory as Helm's loader does: .helmignore's
// patterns (and templates/.*) are left out, and symbolic links are
// followed when they resolve inside root; a link that leads outside root
// fails with ErrPathEscape.
func readDir(root, dir string, l Limits) (map[string][]byte, error) {
	var patterns string
	if data, err := readFileCapped(filepath.Join(dir, ".helmignore"), 1<<20); err == nil {
		patterns = string(data)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, errorf(ErrInvalidChart, ".helmignore: %v", err)
	}
	ig, err := parseHelmIgnore(patterns)
	if err != nil {
		return nil, err
	}
	absRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, errorf(source.ErrInvalid, "root directory: %v", err)
	}
	r := &dirReader{root: absRoot, ig: ig, l: l, files: map[string][]byte{}}
	if err := r.walk(dir, "", 0); err != nil {
		return nil, err
	}
	return r.files, nil
}

// dirReader walks a chart directory.
type dirReader struct {
	root  string
	ig    *helmIgnore
	l     Limits
	files map[string][]byte
	total int64
	nodes int
}

// maxLinkDepth bounds the directory links followed in a chart directory.
const maxLinkDepth = 16

func (r *dirReader) walk(dir, rel string, links int) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, d := range entries {
		r.nodes++
		if r.nodes > 1_000_000 {
			return errorf(ErrTooLarge, "chart directory holds more than 1,000,000 entries")
		}
		name := d.Name()
		p := filepath.Join(dir, name)
		rp := path.Join(rel, name)
		isDir := d.IsDir()
		linked := false
		if d.Type()&fs.ModeSymlink != 0 {
			real, err := filepath.EvalSymlinks(p)
			if err != nil {
				continue // a dangling link, as Helm skips it
			}
			if real != r.root && !strings.HasPrefix(real, r.root+string(filepath.Separator)) {
				return errorf(ErrPathEscape, "chart file %s is a link that leads outside the root", rp)
			}
			st, err := os.Stat(real)
			if err != nil {
				return err
			}
			p, isDir, linked = real, st.IsDir(), true
		}
		if r.ig.ignored(rp, isDir) {
			continue
		}
		if isDir {
			n := links
			if linked {
				n++
				if n > maxLinkDepth {
					return errorf(ErrInvalidChart, "chart directory %s: more than %d directory links deep", rp, maxLinkDepth)
				}
			}
			if err := r.walk(p, rp, n); err != nil {
				return err
			}
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			return errorf(ErrInvalidChart, "chart file %s is not a regular file", rp)
		}
		if r.l.file() >= 0 && st.Size() > r.l.file() {
			return errorf(ErrTooLarge, "chart file %s of %d bytes is larger than the cap of %d", rp, st.Size(), r.l.file())
		}
		r.total += st.Size()
		if r.l.total() >= 0 && r.total > r.l.total() {
			return errorf(ErrTooLarge, "chart files are larger than the cap of %d bytes", r.l.total())
		}
		data, err := readFileCapped(p, capOrMax(r.l.file()))
		if err != nil {
			return err
		}
		r.files[rp] = bytes.TrimPrefix(data, utf8BOM)
	}
	return nil
}

// resolveDependencies adds to ch the dependencies of its Chart.yaml that
// charts/ does not hold, as Flux's dependency manager does. It returns
// how many it added.
func (b *Build) resolveDependencies(ctx context.Context, ch *chart, chartPath string) (int, error) {
	have := map[string]bool{}
	for _, d := range ch.deps {
		have[d.meta.Name] = true
	}
	n := 0
	for _, dep := range ch.meta.Dependencies {
		if have[dep.Name] {
			continue
		}
		var sub *chart
		var err error
		switch {
		case dep.Repository == "" || strings.HasPrefix(dep.Repository, "file://"):
			sub, err = b.localDependency(chartPath, dep)
		case strings.HasPrefix(dep.Repository, "oci://"):
			sub, err = b.ociDependency(ctx, dep)
		case strings.HasPrefix(dep.Repository, "http://") || strings.HasPrefix(dep.Repository, "https://"):
			sub, err = b.httpDependency(ctx, dep)
		default:
			err = errorf(source.ErrInvalid, "repository %q is not a file://, http(s):// or oci:// URL (repository names from a Helm configuration are not supported)", source.RedactURL(dep.Repository))
		}
		if err != nil {
			return n, errorf(errKindOf(err), "dependency %s: %v", dep.Name, err)
		}
		ch.deps = append(ch.deps, sub)
		have[dep.Name] = true
		n++
	}
	return n, nil
}

// errKindOf returns the sentinel err unwraps to, to keep it when err is
// re-described.
func errKindOf(err error) error {
	for _, k := range []error{ErrPathEscape, ErrTooLarge, ErrInvalidChart, source.ErrAuth, source.ErrNotFound, source.ErrRefNotFound, source.ErrVerification, source.ErrNetwork, source.ErrInvalid} {
		if errors.Is(err, k) {
			return k
		}
	}
	return ErrInvalidChart
}

func (b *Build) localDependency(chartPath string, dep *dependency) (*chart, error) {
	rel := strings.TrimPrefix(dep.Repository, "file://")
	if rel == "" {
		rel = "charts/" + dep.Name
	}
	root, err := filepath.EvalSymlinks(b.Root)
	if err != nil {
		return nil, errorf(source.ErrInvalid, "root directory: %v", err)
	}
	from, err := filepath.Rel(root, chartPath)
	if err != nil {
		return nil, err
	}
	target := path.Join(filepath.ToSlash(from), filepath.ToSlash(rel))
	if filepath.IsAbs(rel) || target == ".." || strings.HasPrefix(target, "../") {
		return nil, errorf(ErrPathEscape, "file://%s leads outside the artifact", rel)
	}
	p, err := confine(b.Root, target)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, errorf(source.ErrRefNotFound, "no chart at file://%s", rel)
	}
	var files map[string][]byte
	if st.IsDir() {
		files, err = readDir(b.Root, p, b.Limits)
	} else {
		var data []byte
		if data, err = readFileCapped(p, capOrMax(b.Limits.chart())); err == nil {
			files, err = readArchive(bytes.NewReader(data), b.Limits)
		}
	}
	if err != nil {
		return nil, err
	}
	sub, err := loadChart(files, b.Limits, 1)
	if err != nil {
		return nil, err
	}
	if dep.Version != "" {
		c, err := parseRange(dep.Version)
		if err != nil {
			return nil, err
		}
		v, err := semver.NewVersion(sub.meta.Version)
		if err != nil || !c.Check(v) {
			return nil, errorf(source.ErrRefNotFound, "chart at file://%s has version %s, which does not match %q", rel, sub.meta.Version, dep.Version)
		}
	}
	return sub, nil
}

func (b *Build) httpDependency(ctx context.Context, dep *dependency) (*chart, error) {
	var repo *Repository
	if b.Repositories != nil {
		r, err := b.Repositories(ctx, dep.Repository)
		if err != nil {
			return nil, err
		}
		repo = r
	}
	if repo == nil {
		repo = &Repository{URL: dep.Repository}
	}
	ix, err := repo.Index(ctx)
	if err != nil {
		return nil, err
	}
	cv, err := ix.Get(dep.Name, dep.Version)
	if err != nil {
		return nil, err
	}
	data, err := repo.downloadChart(ctx, cv, b.Limits)
	if err != nil {
		return nil, err
	}
	files, err := readArchive(bytes.NewReader(data), b.Limits)
	if err != nil {
		return nil, err
	}
	return loadChart(files, b.Limits, 1)
}

func (b *Build) ociDependency(ctx context.Context, dep *dependency) (*chart, error) {
	var client oci.Client
	if b.OCIClient != nil {
		c, err := b.OCIClient(ctx, dep.Repository)
		if err != nil {
			return nil, err
		}
		client = c
	}
	tmp, err := os.MkdirTemp("", "helm-dep-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	oc := &OCIChart{URL: dep.Repository, Name: dep.Name, Version: dep.Version, Client: client, Options: ChartOptions{Limits: b.Limits}}
	res, err := oc.Pull(ctx, tmp)
	if err != nil {
		return nil, err
	}
	data, err := readFileCapped(filepath.Join(tmp, res.File), capOrMax(b.Limits.chart()))
	if err != nil {
		return nil, err
	}
	files, err := readArchive(bytes.NewReader(data), b.Limits)
	if err != nil {
		return nil, err
	}
	return loadChart(files, b.Limits, 1)
}
