// Package pullrequest opens, or updates when one is already open, a pull
// request (GitHub) or merge request (GitLab) from an automation's push
// branch to its checkout branch, through their REST APIs. It goes beyond
// Flux, whose image-automation-controller leaves this to other tools
// (image-automation-controller#524).
//
// Provider is the small interface an ImageUpdateAutomation reconciler
// calls after gitpush.Repo.CommitAndPush pushed to a branch other than the
// checkout branch; GitHub and GitLab implement it with the standard
// library's HTTP client. Tokens travel only in request headers and never
// appear in errors; response bodies are capped.
package pullrequest
