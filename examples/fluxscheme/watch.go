package fluxscheme

import (
	"fmt"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ShardKeyLabel is the label that Flux's sharding guide uses to assign an
// object to a shard: a controller started with the watch label selector
// "sharding.fluxcd.io/key=shard1" reconciles the objects labelled
// sharding.fluxcd.io/key: shard1, and one started with
// "!sharding.fluxcd.io/key" reconciles the objects without the label.
const ShardKeyLabel = "sharding.fluxcd.io/key"

// WatchLabelSelector parses selector the way Flux's controllers parse their
// --watch-label-selector flag: Kubernetes' label selector syntax, such as
// "sharding.fluxcd.io/key=shard1", "!sharding.fluxcd.io/key",
// "sharding.fluxcd.io/key in (shard1,shard2)" or "team=a,tier notin (web)";
// as in Flux, "!=" is refused (write "notin" instead). "" selects
// everything. The error of an invalid selector quotes it.
func WatchLabelSelector(selector string) (labels.Selector, error) {
	if selector == "" {
		return labels.Everything(), nil
	}
	ls, err := metav1.ParseToLabelSelector(selector)
	if err != nil {
		return nil, fmt.Errorf("invalid watch label selector %q: %w", selector, err)
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return nil, fmt.Errorf("invalid watch label selector %q: %w", selector, err)
	}
	return sel, nil
}

// ReconciledObjects returns one new, empty object of each Flux kind the
// example controllers reconcile: GitRepository, OCIRepository, Bucket,
// HelmRepository and HelmChart (source.toolkit.fluxcd.io/v1),
// Kustomization (kustomize.toolkit.fluxcd.io/v1), HelmRelease
// (helm.toolkit.fluxcd.io/v2), ImageRepository and ImagePolicy
// (image.toolkit.fluxcd.io/v1) and ImageUpdateAutomation
// (image.toolkit.fluxcd.io/v1). Notification kinds are not among them: as in
// Flux, the notification controller is not sharded.
func ReconciledObjects() []client.Object {
	return []client.Object{
		&sourcev1.GitRepository{},
		&sourcev1.OCIRepository{},
		&sourcev1.Bucket{},
		&sourcev1.HelmRepository{},
		&sourcev1.HelmChart{},
		&kustomizev1.Kustomization{},
		&helmv2.HelmRelease{},
		&imagev1.ImageRepository{},
		&imagev1.ImagePolicy{},
		&imageautov1.ImageUpdateAutomation{},
	}
}

// WatchByObject returns the per-kind cache settings that make a
// controller-runtime manager's cache (ctrl.Options.Cache.ByObject) hold,
// list and watch only the objects of kinds objs whose labels match
// selector (see WatchLabelSelector): what Flux's controllers do with their
// --watch-label-selector flag. No objs means every kind of
// ReconciledObjects. A controller reads its own kind through the cache, so
// it then reconciles only the selected objects; objects of other kinds read
// through the same cache (sources, dependencies) are filtered too when they
// are among objs. An empty selector returns nil: no filter.
//
// A program embedding one example controller passes only the kind that
// controller reconciles, as Flux does (the Kustomization controller filters
// Kustomizations and still sees every source):
//
//	byObject, err := fluxscheme.WatchByObject(flagValue, &kustomizev1.Kustomization{})
//	...
//	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Cache: cache.Options{ByObject: byObject}})
func WatchByObject(selector string, objs ...client.Object) (map[client.Object]cache.ByObject, error) {
	sel, err := WatchLabelSelector(selector)
	if err != nil {
		return nil, err
	}
	if selector == "" {
		return nil, nil
	}
	if len(objs) == 0 {
		objs = ReconciledObjects()
	}
	out := make(map[client.Object]cache.ByObject, len(objs))
	for _, o := range objs {
		out[o] = cache.ByObject{Label: sel}
	}
	return out, nil
}
