package notification

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	notifyv1 "github.com/fluxcd/notification-controller/api/v1"
	notifyv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/notify"
	"github.com/gitopskit/gitopskit/notify/provider"
	"github.com/gitopskit/gitopskit/notify/receiver"
)

// Alert converts a Flux Alert to the notify.Alert that notify.Compile takes.
func Alert(a *notifyv1beta3.Alert) notify.Alert {
	out := notify.Alert{
		Namespace:     a.Namespace,
		Name:          a.Name,
		EventSeverity: a.Spec.EventSeverity,
		InclusionList: a.Spec.InclusionList,
		ExclusionList: a.Spec.ExclusionList,
		EventMetadata: a.Spec.EventMetadata,
		Summary:       a.Spec.Summary,
		Suspend:       a.Spec.Suspend,
	}
	for _, s := range a.Spec.EventSources {
		out.EventSources = append(out.EventSources, notify.EventSource{
			Kind: s.Kind, Name: s.Name, Namespace: s.Namespace, MatchLabels: s.MatchLabels,
		})
	}
	return out
}

// SecretConfig applies the keys of a Provider's Secret to cfg, as Flux
// reads them: "address", "token", "username", "password", "proxy" and
// "headers" (a YAML map of header names to values).
func SecretConfig(cfg *provider.Config, data map[string][]byte) error {
	if v, ok := data["address"]; ok {
		cfg.Address = string(v)
	}
	if v, ok := data["token"]; ok {
		cfg.Token = string(v)
	}
	if v, ok := data["username"]; ok {
		cfg.Username = string(v)
	}
	if v, ok := data["password"]; ok {
		cfg.Password = string(v)
	}
	if v, ok := data["proxy"]; ok {
		cfg.Proxy = string(v)
	}
	if v, ok := data["headers"]; ok {
		h := map[string]string{}
		if err := yaml.Unmarshal(v, &h); err != nil {
			// The YAML error may quote a header value: keep it out.
			return fmt.Errorf("the headers key is not a YAML map of strings")
		}
		cfg.Headers = h
	}
	cfg.SecretData = data // the keys some types read themselves (nats: creds, nkey; GitHub App keys)
	return nil
}

// CertSecretTLS builds the TLS configuration of a Provider's certSecretRef
// Secret, as Flux reads it: "ca.crt" (PEM certificates trusted besides the
// system roots) and "tls.crt" with "tls.key" (a client certificate), or
// the legacy "caFile", "certFile" and "keyFile"; the standard keys win.
// Errors name the keys, never their values.
func CertSecretTLS(data map[string][]byte) (*tls.Config, error) {
	t, err := fluxadapter.TLSFromSecretData(data)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CA != nil {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(t.CA) {
			return nil, errors.New("'ca.crt' holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	if t.Cert != nil {
		cert, err := tls.X509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, errors.New("'tls.crt' and 'tls.key' are not a PEM certificate and its key")
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Receiver converts a Flux Receiver and its token to a receiver.Receiver.
func Receiver(r *notifyv1.Receiver, token string) *receiver.Receiver {
	out := &receiver.Receiver{
		Name:           r.Name,
		Namespace:      r.Namespace,
		Type:           receiver.Type(r.Spec.Type),
		Token:          token,
		Events:         r.Spec.Events,
		ResourceFilter: r.Spec.ResourceFilter,
		Suspend:        r.Spec.Suspend,
	}
	for _, res := range r.Spec.Resources {
		out.Resources = append(out.Resources, receiver.Resource{
			APIVersion: res.APIVersion, Kind: res.Kind, Name: res.Name, Namespace: res.Namespace,
			MatchLabels: res.MatchLabels, Filter: res.Filter,
		})
	}
	for _, p := range r.Spec.OIDCProviders {
		op := receiver.OIDCProvider{IssuerURL: p.IssuerURL, Audience: p.Audience}
		for _, v := range p.Variables {
			op.Variables = append(op.Variables, receiver.OIDCVariable{Name: v.Name, Expression: v.Expression})
		}
		for _, v := range p.Validations {
			op.Validations = append(op.Validations, receiver.OIDCValidation{Expression: v.Expression, Message: v.Message})
		}
		out.OIDCProviders = append(out.OIDCProviders, op)
	}
	return out
}
