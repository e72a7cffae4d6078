package helmrelease

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/helmrelease"
)

// Values files from a source artifact (Flux's API has no field for them,
// helm-controller #814): ValuesFromSourceAnnotation names the source,
// "<Kind>/[<namespace>/]<name>" with Kind GitRepository, OCIRepository or
// Bucket and the namespace defaulting to the HelmRelease's;
// ValuesFilesAnnotation lists the files, "<path>[,<path>...]", relative
// to the root of the source's artifact. The files are merged in order,
// before spec.valuesFrom and spec.values.
const (
	ValuesFromSourceAnnotation = "gitopskit.io/values-from-source"
	ValuesFilesAnnotation      = "gitopskit.io/values-files"
)

// ValuesSource returns the source reference of obj's
// ValuesFromSourceAnnotation and the paths of its ValuesFilesAnnotation;
// ok is false when neither annotation is set. The error names what is
// malformed: a reference that does not parse, an unsupported kind, an
// empty path, or one annotation without the other.
func ValuesSource(obj *helmv2.HelmRelease) (ref kustomizev1.CrossNamespaceSourceReference, paths []string, ok bool, err error) {
	src := strings.TrimSpace(obj.GetAnnotations()[ValuesFromSourceAnnotation])
	files := strings.TrimSpace(obj.GetAnnotations()[ValuesFilesAnnotation])
	switch {
	case src == "" && files == "":
		return ref, nil, false, nil
	case src == "":
		return ref, nil, true, fmt.Errorf("annotation %s is set without %s", ValuesFilesAnnotation, ValuesFromSourceAnnotation)
	case files == "":
		return ref, nil, true, fmt.Errorf("annotation %s is set without %s", ValuesFromSourceAnnotation, ValuesFilesAnnotation)
	}
	parts := strings.Split(src, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return ref, nil, true, fmt.Errorf("annotation %s: %q: want <Kind>/[<namespace>/]<name>", ValuesFromSourceAnnotation, src)
	}
	ref = kustomizev1.CrossNamespaceSourceReference{Kind: parts[0], Name: parts[len(parts)-1]}
	switch ref.Kind {
	case sourcev1.GitRepositoryKind, sourcev1.OCIRepositoryKind, sourcev1.BucketKind:
	default:
		return ref, nil, true, fmt.Errorf("annotation %s: %q: unknown kind %q (want %s, %s or %s)", ValuesFromSourceAnnotation, src, ref.Kind,
			sourcev1.GitRepositoryKind, sourcev1.OCIRepositoryKind, sourcev1.BucketKind)
	}
	if len(parts) == 3 {
		ref.Namespace = parts[1]
		if msgs := validation.IsDNS1123Label(ref.Namespace); len(msgs) > 0 {
			return ref, nil, true, fmt.Errorf("annotation %s: %q: invalid namespace: %s", ValuesFromSourceAnnotation, src, strings.Join(msgs, "; "))
		}
	}
	if msgs := validation.IsDNS1123Subdomain(ref.Name); len(msgs) > 0 {
		return ref, nil, true, fmt.Errorf("annotation %s: %q: invalid name: %s", ValuesFromSourceAnnotation, src, strings.Join(msgs, "; "))
	}
	for i, p := range strings.Split(files, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			return ref, nil, true, fmt.Errorf("annotation %s: entry %d is empty", ValuesFilesAnnotation, i+1)
		}
		paths = append(paths, p)
	}
	return ref, paths, true, nil
}

// valuesSourceKey is the values source index value of obj,
// "<Kind>/<namespace>/<name>", or "" without a well-formed annotation.
func valuesSourceKey(obj *helmv2.HelmRelease) string {
	ref, _, ok, err := ValuesSource(obj)
	if !ok || err != nil {
		return ""
	}
	ns := ref.Namespace
	if ns == "" {
		ns = obj.Namespace
	}
	return fmt.Sprintf("%s/%s/%s", ref.Kind, ns, ref.Name)
}

// valuesFiles reads the values files of obj's annotations from the
// artifact of their source, fetched and verified as a chart artifact is.
// Without the annotations it returns nothing.
func (r *Reconciler) valuesFiles(ctx context.Context, obj *helmv2.HelmRelease) ([]helmrelease.ValuesFile, error) {
	ref, paths, ok, err := ValuesSource(obj)
	if !ok || err != nil {
		return nil, err
	}
	src, err := fluxadapter.Source(ctx, r.Client, ref, obj.Namespace)
	if err != nil {
		return nil, fmt.Errorf("values source: %w", err)
	}
	a := src.GetArtifact()
	if a == nil {
		return nil, fmt.Errorf("values source '%s' is not ready, artifact not found", ref.String())
	}
	dir, err := os.MkdirTemp(r.TempDir, "helmrelease-values-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	f := r.Fetcher
	if f == nil {
		f = &artifact.Fetcher{}
	}
	root := filepath.Join(dir, "src")
	if _, err := f.Fetch(ctx, fluxadapter.Artifact(a), root); err != nil {
		return nil, fmt.Errorf("failed to fetch artifact of values source '%s': %w", ref.String(), err)
	}
	files, err := helmrelease.ReadValuesFiles(root, paths, 0, false)
	if err != nil {
		return nil, fmt.Errorf("values source '%s' at %s: %w", ref.String(), a.Revision, err)
	}
	return files, nil
}
