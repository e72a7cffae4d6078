package helm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	yaml "go.yaml.in/yaml/v3"

	"github.com/gitopskit/gitopskit/internal/yamlguard"
	"github.com/gitopskit/gitopskit/source"
)

// Index is a parsed chart repository index (index.yaml), holding only what
// lookups and downloads need. Entries of each chart are sorted by version,
// highest first; entries whose version is not SemVer, or that have no
// URL, are dropped, as Helm drops them.
type Index struct {
	// APIVersion is the index's apiVersion, "v1".
	APIVersion string
	// Generated is the time the index says it was generated.
	Generated time.Time
	// Entries maps chart names to their versions, highest first.
	Entries map[string][]*ChartVersion
	// Digest is the digest of the index file, "sha256:<hex>": the
	// revision of the repository in Flux's format.
	Digest string
	// Size is the size of the index file in bytes.
	Size int64
}

// ChartVersion is one version of a chart in an index.
type ChartVersion struct {
	// Name and Version are the chart's name and SemVer version.
	Name    string `json:"name" yaml:"name"`
	Version string `json:"version" yaml:"version"`
	// AppVersion is the version of the application the chart deploys.
	AppVersion string `json:"appVersion,omitempty" yaml:"appVersion,omitempty"`
	// APIVersion is the chart's apiVersion ("v1" or "v2").
	APIVersion string `json:"apiVersion,omitempty" yaml:"apiVersion,omitempty"`
	// Description is the chart's one-line description.
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// URLs are where the packaged chart can be downloaded, absolute or
	// relative to the repository URL; the first is used.
	URLs []string `json:"urls" yaml:"urls"`
	// Digest is the hex SHA-256 of the packaged chart; when set, a
	// download is checked against it.
	Digest string `json:"digest,omitempty" yaml:"digest,omitempty"`
	// Created is when the chart version was added to the index.
	Created time.Time `json:"created,omitzero" yaml:"created,omitempty"`
	// Deprecated marks a chart that is no longer maintained.
	Deprecated bool `json:"deprecated,omitempty" yaml:"deprecated,omitempty"`

	semver *semver.Version
}

// rawIndex is the wire form of an index.
type rawIndex struct {
	APIVersion string                     `json:"apiVersion" yaml:"apiVersion"`
	Generated  time.Time                  `json:"generated" yaml:"generated"`
	Entries    map[string][]*ChartVersion `json:"entries" yaml:"entries"`
}

// ParseIndex parses an index file, YAML or JSON (which some servers
// serve). YAML whose aliases would expand far beyond its size is refused
// before it is decoded. The caller caps data's size.
func ParseIndex(data []byte) (ix *Index, err error) {
	defer func() {
		if r := recover(); r != nil {
			ix, err = nil, errorf(ErrInvalidChart, "index does not parse: %v", r)
		}
	}()
	var raw rawIndex
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		if err := json.Unmarshal(trimmed, &raw); err != nil {
			return nil, errorf(source.ErrInvalid, "index does not parse as JSON: %v", err)
		}
	} else {
		if err := yamlguard.Check(data); err != nil {
			return nil, errorf(source.ErrInvalid, "index refused: %v", err)
		}
		if err := yaml.Unmarshal(data, &raw); err != nil {
			return nil, errorf(source.ErrInvalid, "index does not parse as YAML: %v", err)
		}
	}
	if raw.APIVersion == "" {
		return nil, errorf(source.ErrInvalid, "index has no apiVersion")
	}
	ix = &Index{APIVersion: raw.APIVersion, Generated: raw.Generated, Entries: make(map[string][]*ChartVersion, len(raw.Entries)), Size: int64(len(data))}
	for name, vs := range raw.Entries {
		kept := vs[:0]
		for _, v := range vs {
			if v == nil || len(v.URLs) == 0 {
				continue
			}
			sv, err := semver.NewVersion(v.Version)
			if err != nil {
				continue
			}
			if v.Name == "" {
				v.Name = name
			}
			v.semver = sv
			kept = append(kept, v)
		}
		if len(kept) == 0 {
			continue
		}
		sort.SliceStable(kept, func(i, j int) bool { return kept[j].semver.LessThan(kept[i].semver) })
		ix.Entries[name] = kept
	}
	return ix, nil
}

// Get returns the highest version of chart name that satisfies the SemVer
// range version ("" means "*"). A version written exactly as in the index
// matches first, as in Helm. Prereleases match only a range that names a
// prerelease (for example ">=1.0.0-0"), as Helm decides. A missing chart
// or version unwraps to source.ErrRefNotFound.
func (ix *Index) Get(name, version string) (*ChartVersion, error) {
	vs, ok := ix.Entries[name]
	if !ok {
		return nil, errorf(source.ErrRefNotFound, "no chart named %q in the index", name)
	}
	if version == "" {
		version = "*"
	}
	for _, v := range vs {
		if v.Version == version {
			return v, nil
		}
	}
	c, err := parseRange(version)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		if c.Check(v.semver) {
			return v, nil
		}
	}
	return nil, errorf(source.ErrRefNotFound, "no chart version of %q matches %q", name, version)
}

// parseRange parses a SemVer range, recovering the parser's panics.
func parseRange(s string) (c *semver.Constraints, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, errorf(source.ErrInvalid, "version range %q does not parse", s)
		}
	}()
	if len(s) > 256 {
		return nil, errorf(source.ErrInvalid, "version range is longer than 256 bytes")
	}
	c, err = semver.NewConstraint(s)
	if err != nil {
		return nil, errorf(source.ErrInvalid, "version range %q does not parse: %v", s, err)
	}
	return c, nil
}

// ResolveURL resolves a chart URL from an index against the repository
// URL, as Helm does: an absolute URL stays as it is; a relative one is
// resolved against the repository URL taken as a directory, and takes the
// repository URL's query in place of its own (a signed query, for
// example), as Helm and Flux resolve it.
func ResolveURL(repoURL, chartURL string) (string, error) {
	ref, err := url.Parse(chartURL)
	if err != nil {
		return "", errorf(source.ErrInvalid, "chart URL does not parse")
	}
	if ref.IsAbs() {
		return ref.String(), nil
	}
	base, err := url.Parse(repoURL)
	if err != nil {
		return "", errorf(source.ErrInvalid, "repository URL does not parse")
	}
	base.Path = strings.TrimSuffix(base.Path, "/") + "/"
	if base.RawPath != "" {
		base.RawPath = strings.TrimSuffix(base.RawPath, "/") + "/"
	}
	out := base.ResolveReference(ref)
	out.RawQuery = base.RawQuery
	return out.String(), nil
}

// String returns "name-version".
func (v *ChartVersion) String() string { return fmt.Sprintf("%s-%s", v.Name, v.Version) }
