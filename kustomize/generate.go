package kustomize

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resource"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

// Generate returns the kustomization file Build would use for path inside
// root: the existing one with the overrides of opts applied, or, when the
// directory has none, one generated to list every Kubernetes manifest below
// it. Nothing is written to disk.
func Generate(ctx context.Context, root, path string, opts Options) ([]byte, error) {
	fsys, err := newConfinedFS(root)
	if err != nil {
		return nil, err
	}
	dir, err := fsys.resolve(fsys.fluxPath(path))
	if err != nil {
		return nil, fmt.Errorf("kustomize: %w", err)
	}
	_, data, err := prepareKustomization(ctx, fsys, dir, opts)
	return data, err
}

// kustomizationFile returns the name of the kustomization file in dir, or ""
// when there is none.
func kustomizationFile(fsys *confinedFS, dir string) (string, error) {
	found := ""
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		p := filepath.Join(dir, n)
		if _, ok := fsys.overlayFile(p); ok {
			return p, nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if found != "" {
			return "", &PathError{Path: fsys.rel(dir), Err: fmt.Errorf("more than one kustomization file")}
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if _, err := fsys.resolve(p); err != nil {
				return "", err
			}
		}
		found = p
	}
	return found, nil
}

// prepareKustomization computes the kustomization for dir and stores it in
// the overlay of fsys when it differs from what is on disk.
func prepareKustomization(ctx context.Context, fsys *confinedFS, dir string, opts Options) (string, []byte, error) {
	if !fsys.IsDir(dir) {
		return "", nil, &PathError{Path: fsys.rel(dir), Err: fmt.Errorf("not a directory")}
	}
	file, err := kustomizationFile(fsys, dir)
	if err != nil {
		return "", nil, fmt.Errorf("kustomize: %w", err)
	}
	var kus kustypes.Kustomization
	var original []byte
	if file != "" {
		original, err = fsys.ReadFile(file)
		if err != nil {
			return "", nil, fmt.Errorf("kustomize: %w", err)
		}
		if err := yaml.Unmarshal(original, &kus); err != nil {
			return "", nil, fmt.Errorf("kustomize: %s: %w", fsys.rel(file), err)
		}
	} else {
		file = filepath.Join(dir, konfig.DefaultKustomizationFileName())
		kus.APIVersion = kustypes.KustomizationVersion
		kus.Kind = kustypes.KustomizationKind
		ign := opts.Ignore
		res, err := scanManifests(ctx, fsys, dir, ign, opts.LenientGeneration)
		if err != nil {
			return "", nil, err
		}
		kus.Resources = res
	}
	changed, err := applyOverrides(fsys, dir, &kus, opts)
	if err != nil {
		return "", nil, err
	}
	if original != nil && !changed {
		return file, original, nil
	}
	data, err := yaml.Marshal(&kus)
	if err != nil {
		return "", nil, fmt.Errorf("kustomize: encode kustomization: %w", err)
	}
	if err := fsys.put(file, data); err != nil {
		return "", nil, err
	}
	return file, data, nil
}

// applyOverrides injects opts into kus and reports whether anything changed.
func applyOverrides(fsys *confinedFS, dir string, kus *kustypes.Kustomization, opts Options) (bool, error) {
	changed := false
	if opts.TargetNamespace != "" {
		kus.Namespace = opts.TargetNamespace
		changed = true
	}
	if opts.NamePrefix != "" {
		kus.NamePrefix = opts.NamePrefix
		changed = true
	}
	if opts.NameSuffix != "" {
		kus.NameSuffix = opts.NameSuffix
		changed = true
	}
	if len(opts.CommonLabels) > 0 {
		kus.Labels = append(kus.Labels, kustypes.Label{Pairs: copyMap(opts.CommonLabels)})
		changed = true
	}
	if len(opts.CommonAnnotations) > 0 {
		if kus.CommonAnnotations == nil {
			kus.CommonAnnotations = map[string]string{}
		}
		for k, v := range opts.CommonAnnotations {
			kus.CommonAnnotations[k] = v
		}
		changed = true
	}
	for _, p := range opts.Patches {
		kp := kustypes.Patch{Patch: p.Patch}
		if t := p.Target; t != nil {
			kp.Target = &kustypes.Selector{
				ResId:              resIDFor(t),
				LabelSelector:      t.LabelSelector,
				AnnotationSelector: t.AnnotationSelector,
			}
		}
		kus.Patches = append(kus.Patches, kp)
		changed = true
	}
	for _, im := range opts.Images {
		kus.Images = append(kus.Images, kustypes.Image{Name: im.Name, NewName: im.NewName, NewTag: im.NewTag, Digest: im.Digest})
		changed = true
	}
	for _, c := range opts.Components {
		if opts.IgnoreMissingComponents && !fsys.Exists(filepath.Join(dir, filepath.FromSlash(c))) {
			continue
		}
		kus.Components = append(kus.Components, c)
		changed = true
	}
	return changed, nil
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// scanManifests lists, relative to dir, every YAML file below dir and every
// sub-directory with its own kustomization, as Flux's generator does: files
// named *.yaml or *.yml (in lower case), dot-files included, each of which
// must decode as Kubernetes objects unless lenient.
func scanManifests(ctx context.Context, fsys *confinedFS, dir string, ign Ignorer, lenient bool) ([]string, error) {
	var out []string
	rf := provider.NewDefaultDepProvider().GetResourceFactory()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return &PathError{Path: fsys.rel(p), Err: unwrapPathErr(err)}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel := fsys.rel(p)
		name := d.Name()
		if d.IsDir() {
			if ign != nil && ign.Match(rel, true) {
				return filepath.SkipDir
			}
			k, err := kustomizationFile(fsys, p)
			if err != nil {
				return err
			}
			if k != "" {
				r, _ := filepath.Rel(dir, p)
				out = append(out, filepath.ToSlash(r))
				return filepath.SkipDir
			}
			return nil
		}
		if ign != nil && ign.Match(rel, false) {
			return nil
		}
		if ext := filepath.Ext(name); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		if !d.Type().IsRegular() {
			if d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			if _, err := fsys.resolve(p); err != nil {
				return err
			}
		}
		data, err := fsys.ReadFile(p)
		if err != nil {
			return err
		}
		ok := true
		if lenient {
			ok, err = HasManifests(data)
		} else {
			err = decodesAsObjects(rf, data)
		}
		if err != nil {
			return &PathError{Path: rel, Err: err}
		}
		if ok {
			r, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(r))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kustomize: generate: %w", err)
	}
	return out, nil
}

// decodesAsObjects reports, as an error, why data is not a stream of
// Kubernetes objects in the eyes of kustomize.
func decodesAsObjects(rf *resource.Factory, data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("not Kubernetes manifests: decoder panicked: %v", r)
		}
	}()
	if _, err := rf.SliceFromBytes(data); err != nil {
		return fmt.Errorf("not Kubernetes manifests (Options.LenientGeneration skips such files): %w", err)
	}
	return nil
}

// HasManifests decodes a YAML stream and reports whether any document is a
// Kubernetes object (has apiVersion and kind). Malformed YAML is an error;
// panics of the decoder are returned as errors.
func HasManifests(data []byte) (found bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			found, err = false, fmt.Errorf("decode YAML: %v", r)
		}
	}()
	dec := kyaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			if err == io.EOF {
				return found, nil
			}
			return false, fmt.Errorf("decode YAML: %w", err)
		}
		if doc == nil {
			continue
		}
		av, _ := doc["apiVersion"].(string)
		k, _ := doc["kind"].(string)
		if av != "" && k != "" {
			found = true
		}
	}
}
