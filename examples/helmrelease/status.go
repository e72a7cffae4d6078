package helmrelease

import (
	"context"
	"fmt"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/helmrelease/cluster"
	"github.com/gitopskit/gitopskit/reconcile"
)

// record writes what one step did into obj's status (conditions Released,
// TestSuccess and Remediated with Flux's reasons and messages, failure
// counters, history snapshots) and records its Event.
func (r *Reconciler) record(ctx context.Context, c *cluster.Client, obj *helmv2.HelmRelease, res cluster.StepResult, err error, took time.Duration, name string) {
	cond := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	rel, action := res.Release, res.Decision.Action
	ref := fmt.Sprintf("%s/%s", obj.GetStorageNamespace(), name)
	chart := ""
	if rel != nil {
		ref = fmt.Sprintf("%s/%s.v%d", obj.GetStorageNamespace(), name, rel.Revision)
		chart = fmt.Sprintf(" with chart %s@%s", rel.ChartName, rel.ChartVersion)
	}
	var reason, msg string
	status := metav1.ConditionTrue
	if err != nil {
		status = metav1.ConditionFalse
	}
	verb := map[helmrelease.Action]string{helmrelease.ActionInstall: "install", helmrelease.ActionUpgrade: "upgrade",
		helmrelease.ActionTest: "test", helmrelease.ActionRollback: "rollback", helmrelease.ActionUninstall: "uninstall"}[action]
	outcome := map[bool]string{true: "succeeded", false: "failed"}[err == nil]
	reason = titleCase(verb) + map[bool]string{true: "Succeeded", false: "Failed"}[err == nil]
	switch action {
	case helmrelease.ActionInstall, helmrelease.ActionUpgrade:
		obj.Status.LastAttemptedReleaseAction = helmv2.ReleaseAction(action)
		obj.Status.LastAttemptedReleaseActionDuration = &metav1.Duration{Duration: took}
		cond.Delete(helmv2.TestSuccessCondition)
		msg = fmt.Sprintf("Helm %s %s for release %s%s", verb, outcome, ref, chart)
		if err != nil {
			msg += ": " + err.Error()
			r.countFailure(obj)
		} else {
			cond.Delete(helmv2.RemediatedCondition)
		}
		cond.Set(helmv2.ReleasedCondition, status, reason, "%s", msg)
	case helmrelease.ActionTest:
		if rel != nil && rel.TestsFailed() {
			status, reason, outcome = metav1.ConditionFalse, helmv2.TestFailedReason, "failed"
		}
		msg = fmt.Sprintf("Helm test %s for release %s%s", outcome, ref, chart)
		if err == nil && status == metav1.ConditionFalse {
			msg += ": failures ignored"
		}
		if err != nil {
			msg += ": " + err.Error()
			r.countFailure(obj)
		} else if rel != nil && status == metav1.ConditionTrue {
			msg += fmt.Sprintf(": %d test hook(s) completed", len(rel.Tests))
		}
		cond.Set(helmv2.TestSuccessCondition, status, reason, "%s", msg)
	case helmrelease.ActionRollback:
		msg = fmt.Sprintf("Helm rollback to previous release %s%s %s", ref, chart, outcome)
		if err != nil {
			msg += ": " + err.Error()
		}
		cond.Set(helmv2.RemediatedCondition, status, reason, "%s", msg)
	case helmrelease.ActionUninstall:
		msg = fmt.Sprintf("Helm uninstall %s for release %s%s", outcome, ref, chart)
		if err != nil {
			msg += ": " + err.Error()
		}
		cond.Set(helmv2.RemediatedCondition, status, reason, "%s", msg)
		if err == nil && rel == nil {
			if s := obj.Status.History.Latest(); s != nil {
				s.Status = "uninstalled"
			}
		}
	case helmrelease.ActionCorrectDrift:
		reason, msg = helmv2.DriftDetectedReason, fmt.Sprintf("Cluster state of release %s has been corrected:\n%s", ref, res.Corrected.String())
		if err != nil {
			msg = fmt.Sprintf("Failed to correct the cluster state of release %s: %s", ref, err.Error())
		}
	default:
		reason, msg = "ReleaseUnlocked", fmt.Sprintf("Helm release %s unlocked: %s", ref, res.Decision.Reason)
	}
	r.updateHistory(ctx, c, obj, rel, action, name)
	switch {
	case action == helmrelease.ActionUninstall && err == nil:
		updateInventory(ctx, c, obj, nil)
	case rel != nil && (action == helmrelease.ActionInstall || action == helmrelease.ActionUpgrade || action == helmrelease.ActionRollback):
		updateInventory(ctx, c, obj, rel)
	}
	eventType := corev1.EventTypeNormal
	if err != nil {
		eventType = corev1.EventTypeWarning
	}
	r.event(obj, rel, eventType, reason, msg)
}

// countFailure increments the failure counter of the last attempted
// action and the total.
func (r *Reconciler) countFailure(obj *helmv2.HelmRelease) {
	obj.Status.Failures++
	if rem := obj.GetActiveRemediation(); rem != nil {
		rem.IncrementFailureCount(obj)
	}
}

// updateHistory adds or refreshes the snapshot of rel, refreshes the
// status of the others from Helm's storage and truncates the history as
// Flux does.
func (r *Reconciler) updateHistory(ctx context.Context, c *cluster.Client, obj *helmv2.HelmRelease, rel *cluster.Release, action helmrelease.Action, name string) {
	if rel != nil {
		snap := Snapshot(rel, helmv2.ReleaseAction(action))
		if l := obj.Status.History.Latest(); l != nil && l.Version == rel.Revision {
			snap.Action = l.Action
			*l = *snap
		} else {
			obj.Status.History = append(helmv2.Snapshots{snap}, obj.Status.History...)
		}
	}
	if revs, err := c.History(ctx, name); err == nil {
		for _, s := range obj.Status.History {
			for _, h := range revs {
				if h.Revision == s.Version && s.Status != "uninstalled" {
					s.Status = h.Status
				}
			}
		}
	}
	obj.Status.History.Truncate(IgnoreTestFailures(obj))
}

// event records a Kubernetes Event about obj annotated with the chart
// version and appVersion of rel, as Flux's helm-controller does.
func (r *Reconciler) event(obj *helmv2.HelmRelease, rel *cluster.Release, eventType, reason, msg string) {
	if r.Recorder == nil {
		return
	}
	var ann map[string]string
	if rel != nil {
		ann = map[string]string{RevisionAnnotation: rel.ChartVersion}
		if rel.AppVersion != "" {
			ann[AppVersionAnnotation] = rel.AppVersion
		}
	}
	r.Recorder.AnnotatedEventf(obj, nil, ann, eventType, reason, reconcile.EventAction, "%s", msg)
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// chartNotReady is Flux's message for a chart source without an artifact.
func chartNotReady(obj *helmv2.HelmRelease) string {
	if ref := obj.Spec.ChartRef; ref != nil {
		ns := ref.Namespace
		if ns == "" {
			ns = obj.Namespace
		}
		return fmt.Sprintf("%s '%s/%s' is not ready: artifact not found", ref.Kind, ns, ref.Name)
	}
	return fmt.Sprintf("HelmChart '%s' is not ready: artifact not found", obj.Status.HelmChart)
}

// valuesFrom maps spec.valuesFrom.
func valuesFrom(obj *helmv2.HelmRelease) []helmrelease.ValuesReference {
	out := make([]helmrelease.ValuesReference, 0, len(obj.Spec.ValuesFrom))
	for _, v := range obj.Spec.ValuesFrom {
		out = append(out, helmrelease.ValuesReference{Kind: v.Kind, Name: v.Name, ValuesKey: v.ValuesKey,
			TargetPath: v.TargetPath, Optional: v.Optional, Literal: v.Literal})
	}
	return out
}
