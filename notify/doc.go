// Package notify is the event side of gitopskit: the Event every package
// reports (Flux's event payload, JSON-compatible with what Flux's
// controllers post to the notification-controller), the Recorder interface
// reporters take, alert matching, provider clients that deliver events, and
// webhook receivers that let Git hosts and registries wake a reconciler.
// Nothing in it needs a Kubernetes API server.
package notify
