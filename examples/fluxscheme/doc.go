// Package fluxscheme builds a runtime.Scheme holding Kubernetes' built-in
// types and Flux's API types (source, kustomize, helm, notification, image),
// for the example controllers and their tests.
//
// It also holds what sharding needs, for a program that runs every example
// controller (see examples/controllers) or embeds only one of them in its
// own manager: WatchLabelSelector parses a selector the way Flux's
// --watch-label-selector flag does, ShardKeyLabel is Flux's shard label, and
// WatchByObject turns a selector into the manager cache's per-kind
// settings, so the manager lists, watches and reconciles only the objects
// of its shard.
package fluxscheme
