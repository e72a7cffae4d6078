package fluxadapter_test

import (
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
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
