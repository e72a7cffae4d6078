// Package controllers starts the example GitRepository, OCIRepository,
// Bucket, HelmRepository, HelmChart, Kustomization, HelmRelease and image (ImageRepository, ImagePolicy,
// ImageUpdateAutomation) controllers in one controller-runtime manager, with the artifact store and
// its HTTP server, for the demo, the end-to-end tests and the scale
// benchmark.
//
// # Sharding
//
// Config.WatchLabelSelector divides the Flux objects among several
// managers, as Flux's --watch-label-selector flag and its
// sharding.fluxcd.io/key label do: managers started with
// "sharding.fluxcd.io/key=shard1" and "sharding.fluxcd.io/key=shard2"
// reconcile the objects labelled for them, and one started with
// "!sharding.fluxcd.io/key" reconciles the rest. The selector filters the
// manager's cache for every kind it reconciles (see
// fluxscheme.ReconciledObjects), so a shard neither lists nor watches the
// others' objects and its memory grows with its own share only. A shard
// sees only its own objects: the sources, dependencies and HelmCharts
// (spec.chart.metadata.labels) of a sharded object carry the same label.
// Flux's controllers, each a process of its own, filter only the kinds they
// reconcile, so there a sharded Kustomization may use an unlabelled
// GitRepository served by the catch-all source-controller; here it is
// reported as not found. A program embedding one example controller in its
// own manager gets Flux's behaviour by filtering that controller's kind
// only, with fluxscheme.WatchByObject.
//
// Relabelling an object moves it: the old shard's cache drops it without
// running its finalizer, and the new shard reconciles it (a source is
// fetched again into the new shard's artifact store, whose URL its status
// then carries). The artifact the old shard stored stays in its store.
package controllers
