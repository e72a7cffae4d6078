package helmrelease

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/kustomize/api/filters/annotations"
	"sigs.k8s.io/kustomize/api/filters/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/gitopskit/gitopskit/kustomize"
)

// PostRenderer transforms the rendered manifests of a release (a YAML
// stream) before Helm applies them; it is Helm's post-renderer interface,
// implemented here by Kustomize, CommonMetadata and OriginLabels, and run
// in order by Render and the release actions.
type PostRenderer interface {
	Run(rendered *bytes.Buffer) (*bytes.Buffer, error)
}

// Kustomize is Flux's spec.postRenderers[].kustomize: strategic merge and
// JSON 6902 patches (kustomize tells them apart by content) with optional
// target selectors, and image overrides, applied by kustomize's builtin
// transformers in memory (no plugin, no file read).
type Kustomize struct {
	// Patches are applied in order.
	Patches []kustomize.Patch
	// Images override container images.
	Images []kustomize.Image
}

// Run implements PostRenderer.
func (k Kustomize) Run(rendered *bytes.Buffer) (out *bytes.Buffer, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("kustomize post-renderer: kustomize failed: %v", r)
		}
	}()
	fs := filesys.MakeFsInMemory()
	const input = "helm-output.yaml"
	if err := fs.WriteFile(input, rendered.Bytes()); err != nil {
		return nil, err
	}
	kus := kustypes.Kustomization{
		TypeMeta:  kustypes.TypeMeta{APIVersion: kustypes.KustomizationVersion, Kind: kustypes.KustomizationKind},
		Resources: []string{input},
	}
	for _, im := range k.Images {
		kus.Images = append(kus.Images, kustypes.Image{Name: im.Name, NewName: im.NewName, NewTag: im.NewTag, Digest: im.Digest})
	}
	for _, p := range k.Patches {
		kp := kustypes.Patch{Patch: p.Patch}
		if p.Target != nil {
			kp.Target = &kustypes.Selector{
				ResId:              resIDOf(p.Target),
				LabelSelector:      p.Target.LabelSelector,
				AnnotationSelector: p.Target.AnnotationSelector,
			}
		}
		kus.Patches = append(kus.Patches, kp)
	}
	data, err := json.Marshal(kus)
	if err != nil {
		return nil, err
	}
	if err := fs.WriteFile("kustomization.yaml", data); err != nil {
		return nil, err
	}
	kz := krusty.MakeKustomizer(&krusty.Options{
		LoadRestrictions: kustypes.LoadRestrictionsRootOnly,
		PluginConfig:     kustypes.DisabledPluginConfig(),
	})
	rm, err := kz.Run(fs, ".")
	if err != nil {
		return nil, fmt.Errorf("kustomize post-renderer: %w", err)
	}
	y, err := rm.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize post-renderer: %w", err)
	}
	return bytes.NewBuffer(y), nil
}

// CommonMetadata is Flux's spec.commonMetadata: labels and annotations set
// on every rendered object (hooks included).
type CommonMetadata struct {
	Labels      map[string]string
	Annotations map[string]string
}

// Run implements PostRenderer.
func (c CommonMetadata) Run(rendered *bytes.Buffer) (*bytes.Buffer, error) {
	var ts []kio.Filter
	if len(c.Labels) > 0 {
		ts = append(ts, labelFilter(c.Labels))
	}
	if len(c.Annotations) > 0 {
		ts = append(ts, annotationFilter(c.Annotations))
	}
	if len(ts) == 0 {
		return rendered, nil
	}
	return setMetadata(rendered, ts...)
}

// OriginLabels sets the labels Flux puts on every object of a release,
// "helm.toolkit.fluxcd.io/name" and "helm.toolkit.fluxcd.io/namespace",
// naming the HelmRelease.
type OriginLabels struct {
	// Namespace and Name of the HelmRelease.
	Namespace, Name string
}

// Run implements PostRenderer.
func (o OriginLabels) Run(rendered *bytes.Buffer) (*bytes.Buffer, error) {
	return setMetadata(rendered, labelFilter(map[string]string{
		"helm.toolkit.fluxcd.io/name":      o.Name,
		"helm.toolkit.fluxcd.io/namespace": o.Namespace,
	}))
}

// FluxPostRenderers returns the post-renderers Flux's helm-controller runs
// for a HelmRelease, in its order: each Kustomize post-renderer, then
// CommonMetadata when set, then OriginLabels (which win over a common
// label of the same key).
func FluxPostRenderers(namespace, name string, kustomizes []Kustomize, common *CommonMetadata) []PostRenderer {
	var out []PostRenderer
	for _, k := range kustomizes {
		out = append(out, k)
	}
	if common != nil {
		out = append(out, *common)
	}
	return append(out, OriginLabels{Namespace: namespace, Name: name})
}

// chain runs post-renderers in order.
type chain []PostRenderer

func (c chain) Run(rendered *bytes.Buffer) (*bytes.Buffer, error) {
	var err error
	for _, p := range c {
		if rendered, err = p.Run(rendered); err != nil {
			return nil, err
		}
	}
	return rendered, nil
}

// labelFilter sets labels in metadata only, as Flux's common metadata and
// origin labels do (not in selectors or pod templates).
func labelFilter(m map[string]string) kio.Filter {
	return labels.Filter{
		Labels:  m,
		FsSlice: []kustypes.FieldSpec{{Path: "metadata/labels", CreateIfNotPresent: true}},
	}
}

// annotationFilter sets annotations in metadata only.
func annotationFilter(m map[string]string) kio.Filter {
	return annotations.Filter{
		Annotations: m,
		FsSlice:     []kustypes.FieldSpec{{Path: "metadata/annotations", CreateIfNotPresent: true}},
	}
}

// setMetadata runs the metadata filters ts over every object of the YAML
// stream rendered, the items of a List included, and leaves the rest as
// rendered: every document in its order, Lists as Lists, comments, and
// documents that are not objects. Only metadata changes, so the stream is
// walked document by document instead of being loaded into a kustomize
// ResMap (which would expand Lists and copy each object several times);
// what a ResMap refuses, and so Flux's post-renderers, is refused all the
// same (checkIDs).
func setMetadata(rendered *bytes.Buffer, ts ...kio.Filter) (out *bytes.Buffer, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("post-renderer: YAML failed: %v", r)
		}
	}()
	docs, err := readDocuments(rendered.Bytes())
	if err != nil {
		return nil, fmt.Errorf("post-renderer: %w", err)
	}
	var objs []*yaml.RNode
	for _, d := range docs {
		objs = appendObjects(objs, d.Content[0])
	}
	if err := checkIDs(objs); err != nil {
		return nil, fmt.Errorf("post-renderer: %w", err)
	}
	for _, t := range ts {
		if _, err := t.Filter(objs); err != nil {
			return nil, fmt.Errorf("post-renderer: %w", err)
		}
	}
	out = new(bytes.Buffer)
	out.Grow(rendered.Len() + len(objs)*64)
	enc := yaml.NewEncoder(out)
	enc.CompactSeqIndent()
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("post-renderer: %w", err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("post-renderer: %w", err)
	}
	return out, nil
}

// readDocuments parses a YAML stream into its documents, leaving out
// empty and null ones, with anchors and merge keys resolved (as kustomize
// reads a stream) in the documents that have them.
func readDocuments(b []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []*yaml.Node
	for i := 0; ; i++ {
		d := new(yaml.Node)
		if err := dec.Decode(d); err != nil {
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if d.Kind != yaml.DocumentNode || len(d.Content) == 0 || d.Content[0] == nil {
			continue
		}
		if c := d.Content[0]; c.Kind == yaml.ScalarNode && c.ShortTag() == yaml.NodeTagNull {
			continue
		}
		if anchored(d) {
			if err := yaml.NewRNode(d).DeAnchor(); err != nil {
				return nil, fmt.Errorf("document %d: %w", i, err)
			}
		}
		docs = append(docs, d)
	}
}

// mergeTag is the tag of a merge key ("<<").
const mergeTag = "!!merge"

// anchored reports whether n holds an anchor, an alias or a merge key.
func anchored(n *yaml.Node) bool {
	if n.Anchor != "" || n.Kind == yaml.AliasNode || (n.Kind == yaml.ScalarNode && n.ShortTag() == mergeTag) {
		return true
	}
	for _, c := range n.Content {
		if anchored(c) {
			return true
		}
	}
	return false
}

// checkIDs refuses what a kustomize ResMap refuses, so that the metadata
// passes fail where Flux's post-renderers (which load the stream into a
// ResMap) fail: an object without metadata, kind or metadata.name (one
// named by generateName only included), and two objects of one apiVersion
// and kind with the same name and namespace, no namespace counting as
// "default".
func checkIDs(objs []*yaml.RNode) error {
	seen := make(map[string]bool, len(objs))
	for _, o := range objs {
		if o.Field("metadata") == nil {
			return errors.New("an object without metadata")
		}
		kind, name := o.GetKind(), o.GetName()
		if kind == "" {
			return fmt.Errorf("object %q has no kind", name)
		}
		if name == "" {
			return fmt.Errorf("a %s without metadata.name", kind)
		}
		ns := o.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		key := o.GetApiVersion() + " " + kind + " " + ns + " " + name
		if seen[key] {
			return fmt.Errorf("%s %q in namespace %q is rendered twice", kind, name, ns)
		}
		seen[key] = true
	}
	return nil
}

// appendObjects appends to objs the object n is, or the objects of the
// List n is (a kind ending in List, with items, as kustomize and kubectl
// read it), nested Lists included. Nodes that are not mappings are no
// objects.
func appendObjects(objs []*yaml.RNode, n *yaml.Node) []*yaml.RNode {
	if n == nil || n.Kind != yaml.MappingNode {
		return objs
	}
	rn := yaml.NewRNode(n)
	if strings.HasSuffix(rn.GetKind(), "List") {
		if items := rn.Field("items"); items != nil {
			if items.Value.YNode().Kind == yaml.SequenceNode {
				for _, it := range items.Value.YNode().Content {
					objs = appendObjects(objs, it)
				}
			}
			return objs
		}
	}
	return append(objs, rn)
}

func resIDOf(t *kustomize.Selector) resid.ResId {
	return resid.ResId{Gvk: resid.Gvk{Group: t.Group, Version: t.Version, Kind: t.Kind}, Name: t.Name, Namespace: t.Namespace}
}
