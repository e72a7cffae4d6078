// Package ctrlcmd is what the fleet benchmark's controller commands
// (kustomize-controller, helm-controller, source-controller under
// examples/benchcmd) share. Each runs one kind of example controller in a
// process of its own, as Flux runs one controller per Deployment, so a
// benchmark measures the memory of the controller it names and the
// executable links only that controller's packages.
//
// Run reads the common flags (the kubeconfig, the reconcile concurrency,
// and the -requests, -cpuprofile and -memprofile diagnostics), builds a
// controller-runtime manager that knows Flux's kinds, lets the command
// register its reconcilers, prints "ready" on stdout once the caches have
// synced and runs until SIGTERM or SIGINT. RequestCounter counts the API
// requests made through a REST config by method and resource.
package ctrlcmd
