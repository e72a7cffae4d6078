package bucket_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// An endpoint serving TLS with a private CA is trusted through
// certSecretRef (and refused without it); the NewArtifact Event counts the
// fetched files, as in Flux.
func TestBucketCertSecretRef(t *testing.T) {
	ctx := context.Background()
	startControllers(t)
	s3, ca := startS3TLS(t)
	ns := "bucket-tls"
	namespace(t, ns)
	s3.Put(t, "secure", map[string]string{"a.yaml": "a: 1\n", "b/c.yaml": "c: 1\n"})
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3-ca", Namespace: ns}, Data: map[string][]byte{"ca.crt": ca}}
	if err := env.Client.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	obj := createBucket(t, s3, ns, "secure", func(b *sourcev1.Bucket) {
		b.Spec.Insecure = false
		b.Spec.CertSecretRef = &meta.LocalObjectReference{Name: "s3-ca"}
	})
	waitFor(t, obj, "ready over TLS", readyNot(""))
	poll(t, 30*time.Second, "NewArtifact event", func(ctx context.Context) (bool, error) {
		var evs eventsv1.EventList
		if err := env.Client.List(ctx, &evs, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Regarding.Name == "secure" && e.Reason == "NewArtifact" &&
				strings.HasPrefix(e.Note, "stored artifact with 2 fetched files from 'secure' bucket") {
				return true, nil
			}
		}
		return false, nil
	})

	untrusted := createBucket(t, s3, ns, "untrusted", func(b *sourcev1.Bucket) {
		b.Spec.BucketName, b.Spec.Insecure = "secure", false
	})
	waitFor(t, untrusted, "untrusted certificate", func(o *sourcev1.Bucket) bool {
		c := apimeta.FindStatusCondition(o.Status.Conditions, sourcev1.FetchFailedCondition)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == sourcev1.BucketOperationFailedReason &&
			o.Status.Artifact == nil && apimeta.IsStatusConditionFalse(o.Status.Conditions, meta.ReadyCondition)
	})
}

// proxySecretRef sends every request through the proxy, with the Secret's
// credentials.
func TestBucketProxySecretRef(t *testing.T) {
	ctx := context.Background()
	startControllers(t)
	s3 := startS3(t)
	ns := "bucket-proxy"
	namespace(t, ns)
	s3.Put(t, "behind-proxy", map[string]string{"app.yaml": strings.ReplaceAll(configMap, "%s", "one")})
	var relayed, refused atomic.Int32
	fwd := &httputil.ReverseProxy{Rewrite: func(*httputil.ProxyRequest) {}}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte("gate:pass"))
		if !r.URL.IsAbs() || r.Header.Get("Proxy-Authorization") != want {
			refused.Add(1)
			w.Header().Set("Proxy-Authenticate", `Basic realm="proxy"`)
			http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
			return
		}
		relayed.Add(1)
		fwd.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	for name, pass := range map[string]string{"proxy": "pass", "proxy-wrong": "nope"} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: map[string][]byte{
			"address": []byte(proxy.URL), "username": []byte("gate"), "password": []byte(pass)}}
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	obj := createBucket(t, s3, ns, "behind-proxy", func(b *sourcev1.Bucket) {
		b.Spec.ProxySecretRef = &meta.LocalObjectReference{Name: "proxy"}
	})
	waitFor(t, obj, "ready through the proxy", readyNot(""))
	if relayed.Load() == 0 {
		t.Error("no request went through the proxy")
	}

	denied := createBucket(t, s3, ns, "denied", func(b *sourcev1.Bucket) {
		b.Spec.BucketName = "behind-proxy"
		b.Spec.ProxySecretRef = &meta.LocalObjectReference{Name: "proxy-wrong"}
	})
	got := waitFor(t, denied, "refused by the proxy", func(o *sourcev1.Bucket) bool {
		c := apimeta.FindStatusCondition(o.Status.Conditions, sourcev1.FetchFailedCondition)
		return c != nil && c.Status == metav1.ConditionTrue && o.Status.Artifact == nil
	})
	if refused.Load() == 0 {
		t.Error("the proxy refused nothing")
	}
	if c := apimeta.FindStatusCondition(got.Status.Conditions, sourcev1.FetchFailedCondition); strings.Contains(c.Message, "nope") {
		t.Errorf("FetchFailed message %q shows the proxy password", c.Message)
	}
}
