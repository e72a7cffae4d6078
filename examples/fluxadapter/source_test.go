package fluxadapter_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// A certSecretRef and a proxySecretRef Secret, in Flux's formats.
func ExampleProxyFromSecretData() {
	p, err := fluxadapter.ProxyFromSecretData(map[string][]byte{
		"address": []byte("http://proxy.example.com:3128"), "username": []byte("fleet"), "password": []byte("s3cret"),
	})
	fmt.Println(p.URL(), err)
	t, err := fluxadapter.TLSFromSecretData(map[string][]byte{"ca.crt": []byte("-----BEGIN CERTIFICATE-----")})
	fmt.Println(len(t.CA) > 0, t.Cert == nil, err)
	// Output:
	// http://fleet:s3cret@proxy.example.com:3128 <nil>
	// true true <nil>
}

func TestSecretDataErrors(t *testing.T) {
	for _, data := range []map[string][]byte{
		{},
		{"tls.crt": []byte("cert")},
		{"ca.crt": []byte("ca"), "tls.key": []byte("secret-key-material")},
	} {
		_, err := fluxadapter.TLSFromSecretData(data)
		if err == nil || strings.Contains(err.Error(), "secret-key-material") {
			t.Errorf("TLSFromSecretData(%v) = %v", data, err)
		}
	}
	for _, addr := range []string{"", "proxy:3128", "://x"} {
		_, err := fluxadapter.ProxyFromSecretData(map[string][]byte{"address": []byte(addr), "password": []byte("pw-value")})
		if err == nil || strings.Contains(err.Error(), "pw-value") {
			t.Errorf("ProxyFromSecretData(%q) = %v", addr, err)
		}
	}
}

func TestRefreshFailed(t *testing.T) {
	for _, tc := range []struct {
		err            error
		reason         string
		stalled, retry bool
		fetchFailed    bool
		verifiedFalse  bool
	}{
		{err: fmt.Errorf("pull: %w", source.ErrNetwork), reason: "Pull", retry: true, fetchFailed: true},
		{err: fmt.Errorf("login: %w", source.ErrAuth), reason: sourcev1.AuthenticationFailedReason, retry: true, fetchFailed: true},
		{err: fmt.Errorf("url: %w", source.ErrInvalid), reason: "Pull", stalled: true, fetchFailed: true},
		{err: fmt.Errorf("sig: %w", source.ErrVerification), reason: sourcev1.VerificationError, retry: true, verifiedFalse: true},
	} {
		var conds []metav1.Condition
		st := fluxadapter.SourceStatus{Object: &sourcev1.OCIRepository{}, Conditions: reconcile.Conditions{List: &conds}}
		_, err := st.RefreshFailed(tc.err, "Pull")
		if (err != nil) != tc.retry {
			t.Errorf("%v: returned %v, retry %v", tc.err, err, tc.retry)
		}
		if got := apimeta.IsStatusConditionTrue(conds, meta.StalledCondition); got != tc.stalled {
			t.Errorf("%v: stalled %v", tc.err, got)
		}
		ready := apimeta.FindStatusCondition(conds, meta.ReadyCondition)
		if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != tc.reason {
			t.Errorf("%v: Ready %+v, want reason %s", tc.err, ready, tc.reason)
		}
		if got := apimeta.IsStatusConditionTrue(conds, sourcev1.FetchFailedCondition); got != tc.fetchFailed {
			t.Errorf("%v: FetchFailed %v", tc.err, got)
		}
		if got := apimeta.IsStatusConditionFalse(conds, sourcev1.SourceVerifiedCondition); got != tc.verifiedFalse {
			t.Errorf("%v: SourceVerified False %v", tc.err, got)
		}
		st.Stored("stored")
		if !apimeta.IsStatusConditionTrue(conds, meta.ReadyCondition) || apimeta.FindStatusCondition(conds, sourcev1.FetchFailedCondition) != nil {
			t.Errorf("%v: after Stored: %+v", tc.err, conds)
		}
	}
}
