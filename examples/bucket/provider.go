package bucket

import (
	"context"
	"errors"
	"fmt"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/source/bucket"
	"github.com/gitopskit/gitopskit/source/bucket/azureblob"
	"github.com/gitopskit/gitopskit/source/bucket/gcs"
)

// setupError is a failure to build a Bucket's provider, with how the
// status reports it: stalled (the spec must change) or failed (retried).
type setupError struct {
	stall  bool
	reason string
	err    error
}

// provider builds obj's provider from its spec.provider and the Secrets it
// names. The returned function releases the provider's resources.
func (r *Reconciler) provider(ctx context.Context, obj *sourcev1.Bucket) (bucket.Provider, func(), *setupError) {
	var secret, tls, proxy map[string][]byte
	for _, s := range []struct {
		ref  *meta.LocalObjectReference
		what string
		data *map[string][]byte
	}{
		{obj.Spec.SecretRef, "", &secret},
		{obj.Spec.CertSecretRef, "TLS ", &tls},
		{obj.Spec.ProxySecretRef, "proxy ", &proxy},
	} {
		if s.ref == nil {
			continue
		}
		data, err := fluxadapter.SecretData(ctx, r.Client, obj.Namespace, s.ref.Name)
		if err != nil {
			return nil, nil, &setupError{reason: sourcev1.AuthenticationFailedReason, err: fmt.Errorf("invalid %sSecret %q: %w", s.what, s.ref.Name, err)}
		}
		*s.data = data
	}
	// secretErr reports a Secret whose content does not fit.
	secretErr := func(ref *meta.LocalObjectReference, what string, err error) *setupError {
		return &setupError{stall: errors.Is(err, ErrNotSupported), reason: sourcev1.AuthenticationFailedReason,
			err: fmt.Errorf("invalid %sSecret %q: %w", what, ref.Name, err)}
	}
	noop := func() {}
	switch obj.Spec.Provider {
	case sourcev1.BucketProviderAzure:
		o, err := AzureOptions(obj.Spec, secret)
		if err != nil {
			if obj.Spec.SecretRef == nil {
				return nil, nil, &setupError{stall: true, reason: sourcev1.InvalidProviderConfigurationReason, err: err}
			}
			return nil, nil, secretErr(obj.Spec.SecretRef, "", err)
		}
		if e := applyData(&o, tls, obj.Spec.CertSecretRef, "TLS ", AzureTLS, secretErr); e != nil {
			return nil, nil, e
		}
		if e := applyData(&o, proxy, obj.Spec.ProxySecretRef, "proxy ", AzureProxy, secretErr); e != nil {
			return nil, nil, e
		}
		p, err := azureblob.New(o)
		if err != nil {
			return nil, nil, &setupError{stall: true, reason: sourcev1.BucketOperationFailedReason, err: err}
		}
		return p, noop, nil
	case sourcev1.BucketProviderGoogle:
		o, err := GCSOptions(obj.Spec, secret)
		if err != nil {
			return nil, nil, secretErr(obj.Spec.SecretRef, "", err)
		}
		if e := applyData(&o, tls, obj.Spec.CertSecretRef, "TLS ", GCSTLS, secretErr); e != nil {
			return nil, nil, e
		}
		if e := applyData(&o, proxy, obj.Spec.ProxySecretRef, "proxy ", GCSProxy, secretErr); e != nil {
			return nil, nil, e
		}
		p, err := gcs.New(ctx, o)
		if err != nil {
			return nil, nil, &setupError{stall: true, reason: sourcev1.BucketOperationFailedReason, err: err}
		}
		return p, func() { _ = p.Close() }, nil
	default: // generic and aws (Unsupported refused the others)
		o := S3Options(obj.Spec)
		if e := applyData(&o, secret, obj.Spec.SecretRef, "", Credentials, secretErr); e != nil {
			return nil, nil, e
		}
		if e := applyData(&o, tls, obj.Spec.CertSecretRef, "TLS ", TLS, secretErr); e != nil {
			return nil, nil, e
		}
		if e := applyData(&o, proxy, obj.Spec.ProxySecretRef, "proxy ", Proxy, secretErr); e != nil {
			return nil, nil, e
		}
		p, err := bucket.NewS3(o)
		if err != nil {
			return nil, nil, &setupError{stall: true, reason: sourcev1.BucketOperationFailedReason, err: err}
		}
		return p, noop, nil
	}
}

// applyData applies a referenced Secret's data to o; nothing without a
// reference.
func applyData[O any](o *O, data map[string][]byte, ref *meta.LocalObjectReference, what string,
	apply func(*O, map[string][]byte) error, fail func(*meta.LocalObjectReference, string, error) *setupError) *setupError {
	if ref == nil {
		return nil
	}
	if err := apply(o, data); err != nil {
		return fail(ref, what, err)
	}
	return nil
}
