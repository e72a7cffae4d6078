package helm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/internal/yamlguard"
)

// Size caps of charts, as Flux and Helm set them.
const (
	// DefaultMaxChartSize caps a packaged chart (the .tgz): 10 MiB.
	DefaultMaxChartSize = 10 << 20
	// DefaultMaxFileSize caps one file inside a chart: 5 MiB.
	DefaultMaxFileSize = 5 << 20
	// DefaultMaxTotalSize caps the files of a chart once decompressed,
	// dependencies included: 100 MiB.
	DefaultMaxTotalSize = 100 << 20
)

// Limits cap what a chart may hold. The zero value of a field means its
// default; a negative value means no cap.
type Limits struct {
	// MaxChartSize caps a packaged chart; 0 means DefaultMaxChartSize.
	MaxChartSize int64
	// MaxFileSize caps one file inside a chart; 0 means
	// DefaultMaxFileSize.
	MaxFileSize int64
	// MaxTotalSize caps all files of a chart decompressed; 0 means
	// DefaultMaxTotalSize.
	MaxTotalSize int64
}

func capOf(v, def int64) int64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return -1
	}
	return v
}

func (l Limits) chart() int64 { return capOf(l.MaxChartSize, DefaultMaxChartSize) }
func (l Limits) file() int64  { return capOf(l.MaxFileSize, DefaultMaxFileSize) }
func (l Limits) total() int64 { return capOf(l.MaxTotalSize, DefaultMaxTotalSize) }

// chart is a loaded chart: its own files (paths relative to the chart's
// root, charts/ excluded) and its subcharts.
type chart struct {
	meta  metadata
	files map[string][]byte
	deps  []*chart
}

// metadata is what the package reads from Chart.yaml.
type metadata struct {
	APIVersion   string       `json:"apiVersion"`
	Name         string       `json:"name"`
	Version      string       `json:"version"`
	Dependencies []dependency `json:"dependencies,omitempty"`
}

// dependency is one entry of Chart.yaml's dependencies.
type dependency struct {
	Name       string `json:"name"`
	Version    string `json:"version,omitempty"`
	Repository string `json:"repository,omitempty"`
	Alias      string `json:"alias,omitempty"`
}

const (
	chartFile        = "Chart.yaml"
	valuesFile       = "values.yaml"
	requirementsFile = "requirements.yaml"
)

// parseYAML decodes untrusted YAML into v after the alias guard, through
// the YAML-to-JSON path Helm uses.
func parseYAML(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("YAML does not parse: %v", r)
		}
	}()
	if err := yamlguard.Check(data); err != nil {
		return err
	}
	return sigsyaml.Unmarshal(data, v)
}

// loadChart builds a chart from its files, as Helm's loader groups them:
// charts/<x>.tgz and charts/<x>/ are subcharts (names starting with "."
// or "_" are skipped), .prov files under charts/ stay files.
func loadChart(files map[string][]byte, l Limits, depth int) (*chart, error) {
	if depth > 10 {
		return nil, errorf(ErrInvalidChart, "subcharts nest more than 10 deep")
	}
	c := &chart{files: map[string][]byte{}}
	sub := map[string]map[string][]byte{}
	for name, data := range files {
		rest, ok := strings.CutPrefix(name, "charts/")
		if !ok || path.Ext(name) == ".prov" {
			c.files[name] = data
			continue
		}
		if strings.IndexAny(rest, "._") == 0 {
			continue
		}
		first, inner, _ := strings.Cut(rest, "/")
		if sub[first] == nil {
			sub[first] = map[string][]byte{}
		}
		sub[first][inner] = data
	}
	raw, ok := c.files[chartFile]
	if !ok {
		return nil, errorf(ErrInvalidChart, "no Chart.yaml")
	}
	if err := parseYAML(raw, &c.meta); err != nil {
		return nil, errorf(ErrInvalidChart, "Chart.yaml: %v", err)
	}
	if c.meta.APIVersion == "" {
		c.meta.APIVersion = "v1"
	}
	if c.meta.APIVersion == "v1" {
		if req, ok := c.files[requirementsFile]; ok {
			var r struct {
				Dependencies []dependency `json:"dependencies"`
			}
			if err := parseYAML(req, &r); err != nil {
				return nil, errorf(ErrInvalidChart, "requirements.yaml: %v", err)
			}
			c.meta.Dependencies = r.Dependencies
		}
	}
	if err := c.meta.validate(); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(sub))
	for n := range sub {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		group := sub[n]
		var dep *chart
		var err error
		if data, ok := group[""]; ok && len(group) == 1 && strings.HasSuffix(n, ".tgz") {
			var fs map[string][]byte
			fs, err = readArchive(bytes.NewReader(data), l)
			if err == nil {
				dep, err = loadChart(fs, l, depth+1)
			}
		} else if _, ok := group[""]; ok {
			continue // a plain file in charts/: Helm skips it
		} else {
			dep, err = loadChart(group, l, depth+1)
		}
		if err != nil {
			return nil, fmt.Errorf("subchart charts/%s: %w", n, err)
		}
		c.deps = append(c.deps, dep)
	}
	return c, nil
}

func (m metadata) validate() error {
	if m.Name == "" {
		return errorf(ErrInvalidChart, "Chart.yaml has no name")
	}
	if strings.ContainsAny(m.Name, "/\\") || m.Name == "." || m.Name == ".." {
		return errorf(ErrInvalidChart, "chart name %q is not a plain name", m.Name)
	}
	if m.APIVersion != "v1" && m.APIVersion != "v2" {
		return errorf(ErrInvalidChart, "chart %s has apiVersion %q, want v1 or v2", m.Name, m.APIVersion)
	}
	if _, err := semver.StrictNewVersion(m.Version); err != nil {
		if _, err := semver.NewVersion(m.Version); err != nil {
			return errorf(ErrInvalidChart, "chart %s version %q is not SemVer", m.Name, m.Version)
		}
	}
	return nil
}

// utf8BOM is the byte order mark Helm's loader strips from every file.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// readArchive reads a packaged chart: a gzip tar whose entries sit under
// one top directory. It returns the regular files by their path below it,
// without a leading UTF-8 byte order mark, as Helm loads them.
// Unsafe paths are refused; links and other entry types are skipped.
func readArchive(r io.Reader, l Limits) (map[string][]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, errorf(ErrInvalidChart, "chart archive is not gzip: %v", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	var total int64
	top := ""
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errorf(ErrInvalidChart, "chart archive: %v", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.ReplaceAll(h.Name, "\\", "/")
		if strings.HasPrefix(name, "/") || strings.Contains(name, "\x00") {
			return nil, errorf(ErrPathEscape, "chart archive entry %q is not a relative path", h.Name)
		}
		clean := path.Clean(name)
		if clean == ".." || strings.HasPrefix(clean, "../") {
			return nil, errorf(ErrPathEscape, "chart archive entry %q leads outside the chart", h.Name)
		}
		dir, rel, ok := strings.Cut(clean, "/")
		if !ok {
			return nil, errorf(ErrInvalidChart, "chart archive entry %q is not inside a chart directory", h.Name)
		}
		if top == "" {
			top = dir
		}
		if l.file() >= 0 && h.Size > l.file() {
			return nil, fmt.Errorf("chart file %s of %d bytes is larger than the cap of %d: %w", rel, h.Size, l.file(), ErrTooLarge)
		}
		total += h.Size
		if l.total() >= 0 && total > l.total() {
			return nil, fmt.Errorf("chart files are larger than the cap of %d bytes decompressed: %w", l.total(), ErrTooLarge)
		}
		data, err := io.ReadAll(io.LimitReader(tr, h.Size))
		if err != nil {
			return nil, errorf(ErrInvalidChart, "chart archive entry %s: %v", rel, err)
		}
		files[rel] = bytes.TrimPrefix(data, utf8BOM)
	}
	if len(files) == 0 {
		return nil, errorf(ErrInvalidChart, "chart archive holds no files")
	}
	return files, nil
}

// flatten returns the files of c and of its subcharts, as a packaged
// chart lays them out: subcharts unpacked under charts/<name>/.
func (c *chart) flatten(prefix string, out map[string][]byte) {
	for n, d := range c.files {
		out[prefix+n] = d
	}
	for _, d := range c.deps {
		d.flatten(prefix+"charts/"+d.meta.Name+"/", out)
	}
}

// archiveTime is the modification time of every entry of the archives
// this package writes, so that the same chart packs to the same bytes.
var archiveTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// writeArchive packs c as <name>/... into a gzip tar, entries sorted.
func (c *chart) writeArchive(w io.Writer) error {
	files := map[string][]byte{}
	c.flatten("", files)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		// Chart.yaml first, as Helm writes it.
		if (names[i] == chartFile) != (names[j] == chartFile) {
			return names[i] == chartFile
		}
		return names[i] < names[j]
	})
	zw := gzip.NewWriter(w)
	zw.ModTime = archiveTime
	tw := tar.NewWriter(zw)
	for _, n := range names {
		h := &tar.Header{Name: c.meta.Name + "/" + n, Mode: 0o644, Size: int64(len(files[n])), ModTime: archiveTime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// setVersion rewrites Chart.yaml with version, keeping its other fields.
func (c *chart) setVersion(version string) error {
	if c.meta.Version == version {
		return nil
	}
	var m map[string]any
	if err := parseYAML(c.files[chartFile], &m); err != nil {
		return errorf(ErrInvalidChart, "Chart.yaml: %v", err)
	}
	m["version"] = version
	out, err := sigsyaml.Marshal(m)
	if err != nil {
		return err
	}
	c.files[chartFile] = out
	c.meta.Version = version
	return nil
}
