// Package controllers starts the example GitRepository, OCIRepository,
// Bucket, HelmRepository, HelmChart, Kustomization, HelmRelease and image (ImageRepository, ImagePolicy,
// ImageUpdateAutomation) controllers in one controller-runtime manager, with the artifact store and
// its HTTP server, for the demo, the end-to-end tests and the scale
// benchmark.
package controllers
