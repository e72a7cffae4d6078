package image_test

import (
	"context"
	"testing"
	"time"

	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	"github.com/fluxcd/pkg/apis/acl"
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// A policy in another namespace reads an ImageRepository's tags only once
// the repository's accessFrom selects its namespace.
func TestCrossNamespaceAccess(t *testing.T) {
	ctx := context.Background()
	namespace(t, "acl-repo")
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "acl-policy", Labels: map[string]string{"team": "web"}}})
	startControllers(t, false)

	reg := ocitest.New(t)
	pushTag(t, reg, "web", "1.0.0")
	pushTag(t, reg, "web", "1.2.0")
	repo := imageRepository("acl-repo", "web", reg.Host+"/web")
	create(t, repo, semverPolicy("acl-policy", "web", "acl-repo", "web", "1.x"))

	var pol imagev1.ImagePolicy
	key := client.ObjectKey{Namespace: "acl-policy", Name: "web"}
	poll(t, time.Minute, "access denied", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, key, &pol)
		c := apimeta.FindStatusCondition(pol.Status.Conditions, meta.ReadyCondition)
		return err == nil && c != nil && c.Status == metav1.ConditionFalse && c.Reason == acl.AccessDeniedReason, err
	})
	if !apimeta.IsStatusConditionTrue(pol.Status.Conditions, meta.StalledCondition) || pol.Status.LatestRef != nil {
		t.Errorf("conditions %+v, latestRef %+v", pol.Status.Conditions, pol.Status.LatestRef)
	}

	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(repo), repo); err != nil {
		t.Fatal(err)
	}
	repo.Spec.AccessFrom = &acl.AccessFrom{NamespaceSelectors: []acl.NamespaceSelector{{MatchLabels: map[string]string{"team": "web"}}}}
	if err := env.Client.Update(ctx, repo); err != nil {
		t.Fatal(err)
	}
	poll(t, time.Minute, "access granted", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, key, &pol)
		return err == nil && ready(pol.Status.Conditions) && pol.Status.LatestRef != nil, err
	})
	if got := pol.Status.LatestRef.Tag; got != "1.2.0" {
		t.Errorf("latestRef tag %q", got)
	}
}

// With the lockdown, a cross-namespace reference is refused whatever the
// repository's accessFrom says.
func TestNoCrossNamespaceRefs(t *testing.T) {
	namespace(t, "lock-repo")
	namespace(t, "lock-policy")
	startControllers(t, true)
	reg := ocitest.New(t)
	pushTag(t, reg, "web", "1.0.0")
	repo := imageRepository("lock-repo", "web", reg.Host+"/web")
	repo.Spec.AccessFrom = &acl.AccessFrom{NamespaceSelectors: []acl.NamespaceSelector{{}}}
	create(t, repo, semverPolicy("lock-policy", "web", "lock-repo", "web", "1.x"))
	var pol imagev1.ImagePolicy
	poll(t, time.Minute, "access denied", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: "lock-policy", Name: "web"}, &pol)
		c := apimeta.FindStatusCondition(pol.Status.Conditions, meta.ReadyCondition)
		return err == nil && c != nil && c.Reason == acl.AccessDeniedReason, err
	})
}
