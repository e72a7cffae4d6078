package fluxadapter_test

import (
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
)

func TestArtifactChanged(t *testing.T) {
	repo := func(rev, digest string) *sourcev1.GitRepository {
		r := &sourcev1.GitRepository{}
		if rev != "" {
			r.Status.Artifact = &meta.Artifact{Revision: rev, Digest: digest}
		}
		return r
	}
	p := fluxadapter.ArtifactChanged()
	for _, tc := range []struct {
		name     string
		old, new client.Object
		want     bool
	}{
		{"first artifact", repo("", ""), repo("main@sha1:a", "sha256:1"), true},
		{"new revision", repo("main@sha1:a", "sha256:1"), repo("main@sha1:b", "sha256:2"), true},
		{"same revision, new digest", repo("main@sha1:a", "sha256:1"), repo("main@sha1:a", "sha256:2"), true},
		{"unchanged", repo("main@sha1:a", "sha256:1"), repo("main@sha1:a", "sha256:1"), false},
		{"artifact gone", repo("main@sha1:a", "sha256:1"), repo("", ""), false},
		{"not a source", &corev1.ConfigMap{}, &corev1.ConfigMap{}, false},
	} {
		if got := p.Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.new}); got != tc.want {
			t.Errorf("%s: Update = %v, want %v", tc.name, got, tc.want)
		}
	}
	if p.Create(event.CreateEvent{Object: repo("main@sha1:a", "sha256:1")}) || p.Delete(event.DeleteEvent{Object: repo("", "")}) {
		t.Error("creations and deletions pass")
	}
}

func TestDependencyReady(t *testing.T) {
	cond := func(ready bool, gen int64) []metav1.Condition {
		s := metav1.ConditionFalse
		if ready {
			s = metav1.ConditionTrue
		}
		return []metav1.Condition{{Type: meta.ReadyCondition, Status: s, ObservedGeneration: gen}}
	}
	ks := func(ready bool, gen, observed int64, rev string) *kustomizev1.Kustomization {
		k := &kustomizev1.Kustomization{}
		k.Generation = gen
		k.Status.ObservedGeneration = observed
		k.Status.Conditions = cond(ready, observed)
		k.Status.LastAppliedRevision = rev
		return k
	}
	hr := func(ready bool, gen, observed int64) *helmv2.HelmRelease {
		h := &helmv2.HelmRelease{}
		h.Generation = gen
		h.Status.ObservedGeneration = observed
		h.Status.Conditions = cond(ready, observed)
		return h
	}
	p := fluxadapter.DependencyReady()
	for name, tc := range map[string]struct {
		old, new client.Object
		want     bool
	}{
		"kustomization became ready":       {ks(false, 1, 1, "a"), ks(true, 1, 1, "a"), true},
		"kustomization applied a revision": {ks(true, 1, 1, "a"), ks(true, 1, 1, "b"), true},
		"kustomization unchanged":          {ks(true, 1, 1, "a"), ks(true, 1, 1, "a"), false},
		"kustomization ready for old gen":  {ks(false, 2, 1, "a"), ks(true, 2, 1, "a"), false},
		"kustomization became not ready":   {ks(true, 1, 1, "a"), ks(false, 1, 1, "a"), false},
		"helmrelease became ready":         {hr(false, 1, 1), hr(true, 1, 1), true},
		"helmrelease stays ready":          {hr(true, 1, 1), hr(true, 1, 1), false},
		"helmrelease ready for an old gen": {hr(false, 3, 2), hr(true, 3, 2), false},
		"an object without conditions":     {&corev1.ConfigMap{}, &corev1.ConfigMap{}, false},
	} {
		if got := p.Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.new}); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
	if p.Create(event.CreateEvent{Object: hr(true, 1, 1)}) || p.Delete(event.DeleteEvent{Object: hr(true, 1, 1)}) {
		t.Error("create and delete must not pass")
	}
}
