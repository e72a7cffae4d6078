package helm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"

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

// chart is a loaded chart, split as Helm's loader splits it: its
// metadata, lock and schema, its other files (paths relative to the
// chart's root, charts/ excluded) and its subcharts.
type chart struct {
	meta   metadata
	lock   *lock // Chart.lock (v2 charts) or requirements.lock
	schema []byte
	files  map[string][]byte
	deps   []*chart
}

// metadata is Chart.yaml, with the fields Helm knows; Helm drops the
// others when it packages a chart, and so does this package.
type metadata struct {
	Name         string            `json:"name,omitempty"`
	Home         string            `json:"home,omitempty"`
	Sources      []string          `json:"sources,omitempty"`
	Version      string            `json:"version,omitempty"`
	Description  string            `json:"description,omitempty"`
	Keywords     []string          `json:"keywords,omitempty"`
	Maintainers  []*maintainer     `json:"maintainers,omitempty"`
	Icon         string            `json:"icon,omitempty"`
	APIVersion   string            `json:"apiVersion,omitempty"`
	Condition    string            `json:"condition,omitempty"`
	Tags         string            `json:"tags,omitempty"`
	AppVersion   string            `json:"appVersion,omitempty"`
	Deprecated   bool              `json:"deprecated,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	KubeVersion  string            `json:"kubeVersion,omitempty"`
	Dependencies []*dependency     `json:"dependencies,omitempty"`
	Type         string            `json:"type,omitempty"`
}

type maintainer struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	URL   string `json:"url,omitempty"`
}

// dependency is one entry of Chart.yaml's dependencies.
type dependency struct {
	Name         string   `json:"name"`
	Version      string   `json:"version,omitempty"`
	Repository   string   `json:"repository"`
	Condition    string   `json:"condition,omitempty"`
	Tags         []string `json:"tags,omitempty"`
	Enabled      bool     `json:"enabled,omitempty"`
	ImportValues []any    `json:"import-values,omitempty"`
	Alias        string   `json:"alias,omitempty"`
}

// lock is Chart.lock.
type lock struct {
	Generated    time.Time     `json:"generated"`
	Digest       string        `json:"digest"`
	Dependencies []*dependency `json:"dependencies"`
}

const (
	chartFile            = "Chart.yaml"
	valuesFile           = "values.yaml"
	schemaFile           = "values.schema.json"
	lockFile             = "Chart.lock"
	requirementsFile     = "requirements.yaml"
	requirementsLockFile = "requirements.lock"
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
// or "_" are skipped), .prov files under charts/ stay files, and other
// files directly in charts/ are refused, as Helm refuses them.
func loadChart(files map[string][]byte, l Limits, depth int) (*chart, error) {
	if depth > 10 {
		return nil, errorf(ErrInvalidChart, "subcharts nest more than 10 deep")
	}
	c := &chart{files: map[string][]byte{}}
	raw, ok := files[chartFile]
	if !ok {
		return nil, errorf(ErrInvalidChart, "no Chart.yaml")
	}
	if err := parseYAML(raw, &c.meta); err != nil {
		return nil, errorf(ErrInvalidChart, "Chart.yaml: %v", err)
	}
	if c.meta.APIVersion == "" {
		c.meta.APIVersion = "v1"
	}
	v1 := c.meta.APIVersion == "v1"
	sub := map[string]map[string][]byte{}
	for name, data := range files {
		switch {
		case name == chartFile:
		case name == lockFile:
			c.lock = &lock{}
			if err := parseYAML(data, c.lock); err != nil {
				return nil, errorf(ErrInvalidChart, "Chart.lock: %v", err)
			}
		case name == valuesFile:
			if _, err := parseValues(name, data); err != nil {
				return nil, err
			}
			c.files[name] = data
		case name == schemaFile:
			c.schema = data
		case name == requirementsFile:
			if err := parseYAML(data, &c.meta); err != nil {
				return nil, errorf(ErrInvalidChart, "requirements.yaml: %v", err)
			}
			if v1 {
				c.files[name] = data
			}
		case name == requirementsLockFile:
			c.lock = &lock{}
			if err := parseYAML(data, c.lock); err != nil {
				return nil, errorf(ErrInvalidChart, "requirements.lock: %v", err)
			}
			if v1 {
				c.files[name] = data
			}
		case strings.HasPrefix(name, "charts/") && path.Ext(name) != ".prov":
			first, inner, _ := strings.Cut(strings.TrimPrefix(name, "charts/"), "/")
			if sub[first] == nil {
				sub[first] = map[string][]byte{}
			}
			sub[first][inner] = data
		default:
			c.files[name] = data
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
		if strings.IndexAny(n, "._") == 0 {
			continue
		}
		group := sub[n]
		var dep *chart
		var err error
		if data, ok := group[""]; ok && path.Ext(n) == ".tgz" {
			var fs map[string][]byte
			fs, err = readArchive(bytes.NewReader(data), l)
			if err == nil {
				dep, err = loadChart(fs, l, depth+1)
			}
		} else {
			delete(group, "")
			dep, err = loadChart(group, l, depth+1)
		}
		if err != nil {
			return nil, fmt.Errorf("subchart charts/%s: %w", n, err)
		}
		c.deps = append(c.deps, dep)
	}
	return c, nil
}

// aliasFormat is what a dependency alias may hold.
var aliasFormat = regexp.MustCompile("^[a-zA-Z0-9_-]+$")

// validate checks the metadata as Helm does, after cleaning its strings
// as Helm cleans them (white space to spaces, unprintable runes out).
func (m *metadata) validate() error {
	for _, p := range []*string{&m.Name, &m.Description, &m.Home, &m.Icon, &m.Condition, &m.Tags, &m.AppVersion, &m.KubeVersion} {
		*p = printable(*p)
	}
	for i := range m.Sources {
		m.Sources[i] = printable(m.Sources[i])
	}
	for i := range m.Keywords {
		m.Keywords[i] = printable(m.Keywords[i])
	}
	switch {
	case m.Name == "":
		return errorf(ErrInvalidChart, "Chart.yaml has no name")
	case m.Name == "." || m.Name == "..":
		return errorf(ErrInvalidChart, "chart name %q is not allowed", m.Name)
	case strings.ContainsAny(m.Name, "/\\"):
		return errorf(ErrInvalidChart, "chart name %q is not a plain name", m.Name)
	case m.APIVersion != "v1" && m.APIVersion != "v2":
		return errorf(ErrInvalidChart, "chart %s has apiVersion %q, want v1 or v2", m.Name, m.APIVersion)
	case m.Version == "":
		return errorf(ErrInvalidChart, "chart %s has no version", m.Name)
	case m.Type != "" && m.Type != "application" && m.Type != "library":
		return errorf(ErrInvalidChart, "chart %s has type %q, want application or library", m.Name, m.Type)
	}
	if _, err := semver.NewVersion(m.Version); err != nil {
		return errorf(ErrInvalidChart, "chart %s version %q is not SemVer", m.Name, m.Version)
	}
	for _, mt := range m.Maintainers {
		if mt == nil {
			return errorf(ErrInvalidChart, "chart %s has an empty maintainer", m.Name)
		}
		mt.Name, mt.Email, mt.URL = printable(mt.Name), printable(mt.Email), printable(mt.URL)
	}
	seen := map[string]bool{}
	for _, d := range m.Dependencies {
		if d == nil {
			return errorf(ErrInvalidChart, "chart %s has an empty dependency", m.Name)
		}
		d.Name, d.Version, d.Repository, d.Condition = printable(d.Name), printable(d.Version), printable(d.Repository), printable(d.Condition)
		for i := range d.Tags {
			d.Tags[i] = printable(d.Tags[i])
		}
		if d.Alias != "" && !aliasFormat.MatchString(d.Alias) {
			return errorf(ErrInvalidChart, "dependency %q has disallowed characters in its alias", d.Name)
		}
		key := d.Name
		if d.Alias != "" {
			key = d.Alias
		}
		if seen[key] {
			return errorf(ErrInvalidChart, "more than one dependency with name or alias %q", key)
		}
		seen[key] = true
	}
	return nil
}

// printable turns white space into spaces and drops unprintable runes.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return ' '
		}
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, s)
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

// flatten returns the files of c and of its subcharts as helm package
// lays them out: Chart.yaml written from the metadata (without the
// dependencies of a v1 chart), Chart.lock from the lock (v2 charts only),
// values.schema.json checked to be JSON, subcharts unpacked under
// charts/<name>/.
func (c *chart) flatten(prefix string, out map[string][]byte) error {
	meta := c.meta
	if meta.APIVersion == "v1" {
		meta.Dependencies = nil
	}
	data, err := sigsyaml.Marshal(meta)
	if err != nil {
		return err
	}
	out[prefix+chartFile] = data
	if c.lock != nil && c.meta.APIVersion == "v2" {
		data, err := sigsyaml.Marshal(c.lock)
		if err != nil {
			return err
		}
		out[prefix+lockFile] = data
	}
	if c.schema != nil {
		if !json.Valid(c.schema) {
			return errorf(ErrInvalidChart, "chart %s: values.schema.json is not JSON", c.meta.Name)
		}
		out[prefix+schemaFile] = c.schema
	}
	for n, d := range c.files {
		out[prefix+n] = d
	}
	for _, d := range c.deps {
		if err := d.flatten(prefix+"charts/"+d.meta.Name+"/", out); err != nil {
			return err
		}
	}
	return nil
}

// archiveTime is the modification time of every entry of the archives
// this package writes, so that the same chart packs to the same bytes.
var archiveTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// writeArchive packs c as <name>/... into a gzip tar, entries sorted.
func (c *chart) writeArchive(w io.Writer) error {
	files := map[string][]byte{}
	if err := c.flatten("", files); err != nil {
		return err
	}
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

// setVersion sets the chart's version (written to Chart.yaml when the
// chart is packed).
func (c *chart) setVersion(version string) error {
	c.meta.Version = version
	return nil
}
