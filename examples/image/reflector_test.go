package image_test

import (
	"context"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// readyReason waits until obj's Ready condition has the status and reason.
func readyReason(t *testing.T, obj client.Object, conds func() []metav1.Condition, status metav1.ConditionStatus, reason string) *metav1.Condition {
	t.Helper()
	var c *metav1.Condition
	poll(t, time.Minute, "Ready "+string(status)+" "+reason+" on "+obj.GetName(), func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		c = apimeta.FindStatusCondition(conds(), meta.ReadyCondition)
		return err == nil && c != nil && c.Status == status && c.Reason == reason, err
	})
	return c
}

// An ImageRepository's failures carry Flux's reasons; credentials from a
// Secret and a custom exclusion list; a policy that selects nothing keeps
// its latestRef; digest reflection.
func TestReflector(t *testing.T) {
	ctx := context.Background()
	const ns = "reflector"
	namespace(t, ns)
	startControllers(t, false)
	reg := ocitest.New(t, ocitest.WithBasicAuth("reader", "s3cret-pass"))
	var digests = map[string]string{}
	for _, tag := range []string{"1.0.0", "1.1.0", "2.0.0", "latest"} {
		res, err := reg.PushFiles(ctx, "app", tag, map[string]string{"t": tag}, oci.PushOptions{})
		if err != nil {
			t.Fatal(err)
		}
		digests[tag] = res.Digest
	}
	img := reg.Host + "/app"

	bad := imageRepository(ns, "bad", img+":1.0.0")
	noauth := imageRepository(ns, "noauth", img)
	create(t, bad, noauth)
	readyReason(t, bad, func() []metav1.Condition { return bad.Status.Conditions }, metav1.ConditionFalse, imagev1.ImageURLInvalidReason)
	if !apimeta.IsStatusConditionTrue(bad.Status.Conditions, meta.StalledCondition) {
		t.Errorf("an invalid image must stall: %+v", bad.Status.Conditions)
	}
	c := readyReason(t, noauth, func() []metav1.Condition { return noauth.Status.Conditions }, metav1.ConditionFalse, imagev1.AuthenticationFailedReason)
	if strings.Contains(c.Message, "s3cret-pass") {
		t.Errorf("message leaks the password: %s", c.Message)
	}

	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: ns},
		StringData: map[string]string{"username": "reader", "password": "s3cret-pass"}})
	repo := imageRepository(ns, "app", img)
	repo.Spec.SecretRef = &meta.LocalObjectReference{Name: "creds"}
	repo.Spec.ExclusionList = []string{"^latest$"}
	repo.Spec.Interval.Duration = time.Hour
	create(t, repo)
	c = readyReason(t, repo, func() []metav1.Condition { return repo.Status.Conditions }, metav1.ConditionTrue, meta.SucceededReason)
	r := repo.Status.LastScanResult
	if r == nil || r.TagCount != 3 || strings.Join(r.LatestTags, ",") != "2.0.0,1.1.0,1.0.0" || !strings.HasPrefix(c.Message, "successful scan: found 3 tags with checksum ") {
		t.Errorf("lastScanResult %+v, message %q", r, c.Message)
	}
	if strings.Join(repo.Status.ObservedExclusionList, ",") != "^latest$" {
		t.Errorf("observedExclusionList %q", repo.Status.ObservedExclusionList)
	}

	never := semverPolicy(ns, "none", "", "app", ">=3.0.0")
	always := semverPolicy(ns, "always", "", "app", "1.x")
	always.Spec.DigestReflectionPolicy = imagev1.ReflectAlways
	always.Spec.Interval = &metav1.Duration{Duration: time.Hour}
	create(t, never, always)
	readyReason(t, never, func() []metav1.Condition { return never.Status.Conditions }, metav1.ConditionFalse, meta.ReconciliationFailedReason)
	if never.Status.LatestRef != nil {
		t.Errorf("latestRef %+v with no qualifying tag", never.Status.LatestRef)
	}
	c = readyReason(t, always, func() []metav1.Condition { return always.Status.Conditions }, metav1.ConditionTrue, meta.SucceededReason)
	want := imagev1.ImageRef{Name: img, Tag: "1.1.0", Digest: digests["1.1.0"]}
	if l := always.Status.LatestRef; l == nil || *l != want {
		t.Errorf("latestRef %+v, want %+v", l, want)
	}
	if c.Message != "Latest image tag for "+img+" resolved to 1.1.0" {
		t.Errorf("message %q", c.Message)
	}

	// The tag moves to another image: Always notices at the next reconcile.
	if err := reg.Tag(ctx, "app", digests["1.0.0"], "1.1.0"); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(always), always); err != nil {
		t.Fatal(err)
	}
	always.Annotations = map[string]string{meta.ReconcileRequestAnnotation: "now"}
	if err := env.Client.Update(ctx, always); err != nil {
		t.Fatal(err)
	}
	poll(t, time.Minute, "new digest", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(always), always)
		return err == nil && always.Status.LatestRef.Digest == digests["1.0.0"], err
	})
	if p := always.Status.ObservedPreviousRef; p == nil || *p != want {
		t.Errorf("observedPreviousRef %+v, want %+v", p, want)
	}

	// A wrong password (a scan requested) fails; once the Secret is fixed
	// the retry scans again although the last successful scan is recent.
	setPassword := func(pw string) {
		var sec corev1.Secret
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "creds"}, &sec); err != nil {
			t.Fatal(err)
		}
		sec.Data["password"] = []byte(pw)
		if err := env.Client.Update(ctx, &sec); err != nil {
			t.Fatal(err)
		}
	}
	setPassword("wrong")
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(repo), repo); err != nil {
		t.Fatal(err)
	}
	repo.Annotations = map[string]string{meta.ReconcileRequestAnnotation: "rotate"}
	if err := env.Client.Update(ctx, repo); err != nil {
		t.Fatal(err)
	}
	readyReason(t, repo, func() []metav1.Condition { return repo.Status.Conditions }, metav1.ConditionFalse, imagev1.AuthenticationFailedReason)
	setPassword("s3cret-pass")
	readyReason(t, repo, func() []metav1.Condition { return repo.Status.Conditions }, metav1.ConditionTrue, meta.SucceededReason)

	// Deleting the repository (its finalizer drops the tags) leaves the
	// policy waiting for it.
	if err := env.Client.Delete(ctx, repo); err != nil {
		t.Fatal(err)
	}
	readyReason(t, always, func() []metav1.Condition { return always.Status.Conditions }, metav1.ConditionFalse, imagev1.DependencyNotReadyReason)
}
