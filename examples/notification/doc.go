// Package notification is the example controller for Flux's notification
// API, built from the notify packages: Provider and Alert
// (notification.toolkit.fluxcd.io/v1beta3) and Receiver (v1).
//
// Setup adds to a manager:
//   - the event server (notify.NewHandler, Flux's event protocol), to which
//     the other controllers post their events through an EventRecorder
//     (see examples/controllers' Config.Notify); identical events within
//     the de-duplication window are dropped;
//   - alert dispatch (Dispatcher): each accepted event is matched against
//     the cluster's Alerts (notify.Matcher, labels read from the involved
//     object), passed through its Provider's gate (notify.Admit), composed
//     (notify.Rule.Notification) and sent (provider.New), with the address,
//     token, credentials, headers, proxy and TLS certificates (certSecretRef)
//     of the Provider's Secrets; as in Flux, a commit-status Provider
//     without a certSecretRef takes ca.crt (and tls.crt/tls.key) from its
//     secretRef, and the GitHub App keys of a secretRef (githubAppID, …)
//     authenticate the github, githubdispatch and githubpullrequestcomment
//     types, with installation tokens shared across notifications
//     (Dispatcher.Tokens);
//   - the Receiver controller, which reads the token from the Receiver's
//     secretRef, checks the spec and sets .status.webhookPath and Ready
//     ("Receiver initialized for path: ...") or Ready=False with Flux's
//     reasons TokenNotFound and ValidationFailed; a change of that Secret
//     (a rotated token) reconciles the Receiver again, and so does
//     spec.interval (10m by default), as in Flux;
//   - the webhook server (receiver.NewHandler), which annotates the objects
//     a verified request matches with reconcile.fluxcd.io/requestedAt, so
//     a GitRepository, for one, reconciles at once.
//
// As in Flux, Providers and Alerts (v1beta3) have no status and no
// reconciler: they are read when an event arrives. An Alert or Provider
// that cannot be used, and a notification that cannot be delivered, are
// reported as Warning Events on the Alert (reasons InvalidConfig and
// NotificationDispatchFailed) and in the log.
//
// Provider spec.serviceAccountName (Flux's object-level workload identity,
// which exchanges a Kubernetes ServiceAccount token for a cloud token) is
// not supported: no cloud token exchange is done here, and such a Provider
// is reported with InvalidConfig rather than used without credentials.
// Controller-level workload identity is not attempted either: give
// Providers their credentials in their secretRef.
package notification
