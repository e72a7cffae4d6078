package helm

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/source"
)

// MergeValues merges values maps in order, as Flux merges a HelmChart's
// valuesFiles: a key of a later map replaces the earlier one, except that
// two maps under the same key are merged the same way. The inputs are not
// modified.
func MergeValues(maps ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range maps {
		out = mergeInto(out, m)
	}
	return out
}

func mergeInto(dst, src map[string]any) map[string]any {
	res := make(map[string]any, len(dst)+len(src))
	for k, v := range dst {
		res[k] = v
	}
	for k, v := range src {
		if sv, ok := v.(map[string]any); ok {
			if dv, ok := res[k].(map[string]any); ok {
				res[k] = mergeInto(dv, sv)
				continue
			}
		}
		res[k] = v
	}
	return res
}

// parseValues parses a values file into a map; an empty file is an empty
// map.
func parseValues(name string, data []byte) (map[string]any, error) {
	m := map[string]any{}
	if err := parseYAML(data, &m); err != nil {
		return nil, errorf(ErrInvalidChart, "values file %s: %v", name, err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// mergeValuesFiles merges the named values files, read through read
// (which returns found=false for a missing file), and makes the result
// the chart's values.yaml, as Flux does: the chart's own values.yaml
// counts only when it is listed, and when nothing is merged (every file
// missing, or all empty) values.yaml is left empty. It returns the files
// that were merged.
func (c *chart) mergeValuesFiles(files []string, ignoreMissing bool, read func(name string) (data []byte, found bool, err error)) ([]string, error) {
	var maps []map[string]any
	var used []string
	for _, f := range files {
		data, found, err := read(f)
		if err != nil {
			return nil, err
		}
		if !found {
			if ignoreMissing {
				continue
			}
			return nil, errorf(source.ErrRefNotFound, "no values file found at path %q", f)
		}
		m, err := parseValues(f, data)
		if err != nil {
			return nil, err
		}
		maps = append(maps, m)
		used = append(used, f)
	}
	merged := MergeValues(maps...)
	var out []byte
	if len(merged) > 0 {
		var err error
		if out, err = sigsyaml.Marshal(merged); err != nil {
			return nil, errorf(ErrInvalidChart, "merged values do not marshal: %v", err)
		}
	}
	c.files[valuesFile] = out
	return used, nil
}

// ReconcileStrategy says when a chart built from a Git or Bucket source
// gets a new version, as a HelmChart's spec.reconcileStrategy.
type ReconcileStrategy string

const (
	// StrategyChartVersion (Flux's default) rebuilds when the chart's
	// version changes.
	StrategyChartVersion ReconcileStrategy = "ChartVersion"
	// StrategyRevision rebuilds at every new source revision: the version
	// gets "+<first 12 of the revision's digest>".
	StrategyRevision ReconcileStrategy = "Revision"
)

// VersionMetadata returns the SemVer build metadata Flux appends to a
// chart's version: for a chart built from a source artifact with
// StrategyRevision, the first 12 hex digits of sourceRevision's digest
// ("main@sha1:<hex>", "sha256:<hex>"); when valuesFiles is true, the
// object's generation, after a "." if there is a digest. Pass an empty
// sourceRevision for a chart from a repository (HTTP or OCI), which only
// gets the generation, and only when valuesFiles is true.
func VersionMetadata(strategy ReconcileStrategy, sourceRevision string, valuesFiles bool, generation int64) string {
	var meta string
	if strategy == StrategyRevision && sourceRevision != "" {
		rev := sourceRevision
		if r, err := source.ParseRevision(rev); err == nil {
			rev = r.Digest
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		meta = rev
	}
	if valuesFiles {
		if meta != "" {
			meta += "."
		}
		meta += strconv.FormatInt(generation, 10)
	}
	return meta
}

// withMetadata returns version with its build metadata replaced by meta
// (unchanged when meta is empty).
func withMetadata(version, meta string) (string, error) {
	if meta == "" {
		return version, nil
	}
	v, err := semver.NewVersion(version)
	if err != nil {
		return "", errorf(ErrInvalidChart, "chart version %q is not SemVer", version)
	}
	nv, err := v.SetMetadata(meta)
	if err != nil {
		return "", errorf(source.ErrInvalid, "version metadata %q: %v", meta, err)
	}
	return nv.String(), nil
}

// ChartFileName returns the name of a packaged chart, "<name>-<version>.tgz".
func ChartFileName(name, version string) string {
	return fmt.Sprintf("%s-%s.tgz", name, strings.ReplaceAll(version, "/", "_"))
}
