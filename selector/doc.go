// Package selector holds the one type gitopskit uses to pick objects by
// identity, labels and annotations: kustomize patch targets and reconcile's
// drift-ignore rules take the same Selector, as Flux's APIs use the same
// selector for both. It has no dependencies.
package selector
