package notification

import (
	"context"
	"errors"
	"fmt"
	"time"

	notifyv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/notify"
	"github.com/gitopskit/gitopskit/notify/provider"
	"github.com/gitopskit/gitopskit/notify/provider/natsprovider"
	"github.com/gitopskit/gitopskit/notify/provider/otelprovider"
	"github.com/gitopskit/gitopskit/reconcile"
)

// Flux's reasons for the Warning Events recorded on an Alert.
const (
	// NotificationDispatchFailedReason: a provider did not take a
	// notification.
	NotificationDispatchFailedReason = "NotificationDispatchFailed"
	// InvalidConfigReason: the Alert or its Provider cannot be used.
	InvalidConfigReason = "InvalidConfig"
)

// Dispatcher is the alerting side of the event server: a notify.Recorder
// (what notify.NewHandler hands each accepted event to) that matches the
// event against the cluster's Alerts and sends the composed notification
// to each matching Alert's Provider, as Flux's notification-controller
// does. Alerts and Providers (v1beta3) have no status, as in Flux: an
// Alert or Provider that cannot be used is reported with a Warning Event on
// the Alert and in the log.
type Dispatcher struct {
	// Client reads Alerts, Providers, their Secrets, and the labels of
	// involved objects.
	Client client.Client
	// Recorder records Warning Events on Alerts; nil records none.
	Recorder reconcile.EventRecorder
	// NoCrossNamespaceRefs makes an Alert hear only its own namespace.
	NoCrossNamespaceRefs bool
	// Logger reports deliveries and failures; the zero Logger discards.
	Logger logr.Logger
	// Tokens keeps the access tokens minted from Providers' GitHub App
	// and Google service-account keys across notifications (a Sender is
	// built per notification); nil mints one per notification. Setup
	// gives it one.
	Tokens *provider.TokenCache
}

// Record matches e and starts the deliveries; it does not wait for them.
func (d *Dispatcher) Record(ctx context.Context, e notify.Event) error {
	var alerts notifyv1beta3.AlertList
	if err := d.Client.List(ctx, &alerts); err != nil {
		return fmt.Errorf("listing Alerts: %w", err)
	}
	rules := make([]*notify.Rule, 0, len(alerts.Items))
	byRule := map[*notify.Rule]*notifyv1beta3.Alert{}
	for i := range alerts.Items {
		a := &alerts.Items[i]
		rule, err := notify.Compile(Alert(a))
		if err != nil {
			d.warn(a, InvalidConfigReason, err.Error())
			continue
		}
		rules = append(rules, rule)
		byRule[rule] = a
	}
	m := notify.NewMatcher(rules, notify.MatcherOptions{Labeler: notify.LabelerFunc(d.labels), NoCrossNamespaceRefs: d.NoCrossNamespaceRefs})
	matched, err := m.Match(ctx, e)
	if err != nil {
		d.Logger.Error(err, "matching alerts", "kind", e.InvolvedObject.Kind, "name", e.InvolvedObject.Name, "namespace", e.InvolvedObject.Namespace)
	}
	for _, rule := range matched {
		d.dispatch(ctx, e, rule, byRule[rule])
	}
	return nil
}

// dispatch sends e to the Provider of one matching Alert.
func (d *Dispatcher) dispatch(ctx context.Context, e notify.Event, rule *notify.Rule, a *notifyv1beta3.Alert) {
	var p notifyv1beta3.Provider
	if err := d.Client.Get(ctx, types.NamespacedName{Namespace: a.Namespace, Name: a.Spec.ProviderRef.Name}, &p); err != nil {
		d.warn(a, InvalidConfigReason, fmt.Sprintf("failed to read Provider %q: %s", a.Spec.ProviderRef.Name, err))
		return
	}
	if p.Spec.Suspend {
		return
	}
	if v := notify.Admit(notify.ClassOf(p.Spec.Type), e); v != notify.Deliver {
		d.Logger.V(1).Info("notification not sent", "verdict", v.String(), "provider", p.Name, "alert", a.Name)
		return
	}
	n, _, err := rule.Notification(e)
	if err != nil {
		d.warn(a, InvalidConfigReason, err.Error())
		return
	}
	cfg, err := d.config(ctx, &p)
	if err != nil {
		d.warn(a, InvalidConfigReason, err.Error())
		return
	}
	// The Alert is CEL's "alert" and names otel's service and traces.
	if cfg.AlertObject, err = runtime.DefaultUnstructuredConverter.ToUnstructured(a); err != nil {
		d.warn(a, InvalidConfigReason, err.Error())
		return
	}
	sender, err := provider.New(cfg, natsprovider.Option(), otelprovider.Option())
	if err != nil {
		d.warn(a, InvalidConfigReason, fmt.Sprintf("Provider %q: %s", p.Name, err))
		return
	}
	go func() {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Timeout+5*time.Second)
		defer cancel()
		if err := sender.Post(pctx, n); err != nil {
			d.warn(a, NotificationDispatchFailedReason, fmt.Sprintf("failed to send notification for %s/%s/%s: %s",
				n.InvolvedObject.Kind, n.InvolvedObject.Namespace, n.InvolvedObject.Name, err))
			return
		}
		d.Logger.Info("sent notification", "kind", n.InvolvedObject.Kind, "name", n.InvolvedObject.Name,
			"namespace", n.InvolvedObject.Namespace, "provider", p.Name)
	}()
}

// config turns a Provider and its Secrets into a provider.Config.
func (d *Dispatcher) config(ctx context.Context, p *notifyv1beta3.Provider) (provider.Config, error) {
	cfg := provider.Config{
		Type:             p.Spec.Type,
		Address:          p.Spec.Address,
		Channel:          p.Spec.Channel,
		Username:         p.Spec.Username,
		Proxy:            p.Spec.Proxy,
		ProviderUID:      string(p.UID),
		CommitStatusExpr: p.Spec.CommitStatusExpr,
		Timeout:          15 * time.Second,
		TokenCache:       d.Tokens,
	}
	if p.Spec.ServiceAccountName != "" {
		// Flux exchanges the ServiceAccount's token for a cloud token
		// (object-level workload identity); no cloud token exchange is
		// done here, so say so rather than post unauthenticated.
		return cfg, fmt.Errorf("spec.serviceAccountName of Provider %q (object-level workload identity) is not supported by this controller: "+
			"give the credentials in spec.secretRef", p.Name)
	}
	if p.Spec.Timeout != nil {
		cfg.Timeout = p.Spec.Timeout.Duration
	}
	if ref := p.Spec.SecretRef; ref != nil {
		data, err := d.secret(ctx, p.Namespace, ref.Name)
		if err != nil {
			return cfg, err
		}
		if err := SecretConfig(&cfg, data); err != nil {
			return cfg, fmt.Errorf("invalid Secret %q of Provider %q: %w", ref.Name, p.Name, err)
		}
		// Flux's deprecated path: without a certSecretRef, a commit-status
		// Provider takes its TLS configuration (ca.crt, tls.crt/tls.key)
		// from its secretRef.
		if p.Spec.CertSecretRef == nil && provider.IsCommitStatus(p.Spec.Type) && hasTLSKeys(data) {
			if cfg.TLSConfig, err = CertSecretTLS(data); err != nil {
				return cfg, fmt.Errorf("invalid TLS keys in Secret %q of Provider %q: %w", ref.Name, p.Name, err)
			}
		}
	}
	if ref := p.Spec.CertSecretRef; ref != nil {
		data, err := d.secret(ctx, p.Namespace, ref.Name)
		if err != nil {
			return cfg, err
		}
		if cfg.TLSConfig, err = CertSecretTLS(data); err != nil {
			return cfg, fmt.Errorf("invalid certSecretRef Secret %q of Provider %q: %w", ref.Name, p.Name, err)
		}
	}
	if ref := p.Spec.ProxySecretRef; ref != nil {
		data, err := d.secret(ctx, p.Namespace, ref.Name)
		if err != nil {
			return cfg, err
		}
		if a := data["address"]; len(a) > 0 {
			cfg.Proxy = string(a)
		}
	}
	return cfg, nil
}

// hasTLSKeys reports whether a Secret holds any of the keys of a TLS
// configuration, standard or legacy.
func hasTLSKeys(data map[string][]byte) bool {
	for _, k := range []string{"ca.crt", "tls.crt", "tls.key", "caFile", "certFile", "keyFile"} {
		if len(data[k]) > 0 {
			return true
		}
	}
	return false
}

func (d *Dispatcher) secret(ctx context.Context, ns, name string) (map[string][]byte, error) {
	var s corev1.Secret
	if err := d.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &s); err != nil {
		return nil, fmt.Errorf("failed to read Secret %q: %w", name, err)
	}
	return s.Data, nil
}

// labels reads the involved object's labels, for sources with matchLabels.
func (d *Dispatcher) labels(ctx context.Context, ref notify.ObjectReference) (map[string]string, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil || ref.APIVersion == "" {
		return nil, errors.Join(errors.New("event has no apiVersion"), err)
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gv.WithKind(ref.Kind))
	if err := d.Client.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, u); err != nil {
		return nil, err
	}
	return u.GetLabels(), nil
}

func (d *Dispatcher) warn(a *notifyv1beta3.Alert, reason, msg string) {
	d.Logger.Error(errors.New(msg), "alert", "name", a.Name, "namespace", a.Namespace, "reason", reason)
	if d.Recorder != nil {
		d.Recorder.AnnotatedEventf(a, nil, nil, corev1.EventTypeWarning, reason, reconcile.EventAction, "%s", msg)
	}
}
