package receiver

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeCluster resolves references against a fixed list of objects, as a
// Kubernetes client would: by name, or by labels for "*".
type fakeCluster []Object

func (c fakeCluster) Resolve(_ context.Context, ref Resource) ([]Object, error) {
	var out []Object
	for _, o := range c {
		if o.APIVersion != ref.APIVersion || o.Kind != ref.Kind || o.Namespace != ref.Namespace {
			continue
		}
		if ref.Name != "*" {
			if o.Name == ref.Name {
				return []Object{o}, nil
			}
			continue
		}
		match := true
		for k, v := range ref.MatchLabels {
			if o.Labels[k] != v {
				match = false
			}
		}
		if match {
			out = append(out, o)
		}
	}
	if ref.Name != "*" {
		return nil, errors.New("not found")
	}
	return out, nil
}

func TestResourceFilters(t *testing.T) {
	const api = "image.toolkit.fluxcd.io/v1"
	img := func(name, ns, image, env string) Object {
		return Object{APIVersion: api, Kind: "ImageRepository", Namespace: ns, Name: name,
			Labels:      map[string]string{"registry": "gar", "environment": env},
			Annotations: map[string]string{"update-image": image}}
	}
	cluster := fakeCluster{
		img("test-resource-1", "apps", "hello-world", "production"),
		img("test-resource-2", "apps", "other-image", "production"),
		img("test-resource-3", "apps", "hello-world", "staging"),
		img("test-resource-4", "tenant", "hello-world", "production"),
		{APIVersion: api, Kind: "ImageRepository", Namespace: "apps", Name: "bare", Labels: map[string]string{"registry": "gar"}},
	}
	body := []byte(`{"action":"INSERT","digest":"us-east1-docker.pkg.dev/my-project/my-repo/hello-world@sha256:6ec128e26cd5...","tag":"us-east1-docker.pkg.dev/my-project/my-repo/hello-world:1.1"}`)
	jsonCT := map[string]string{"Content-Type": "application/json; charset=utf-8"}
	byLabels := Resource{APIVersion: api, Kind: "ImageRepository", Name: "*", MatchLabels: map[string]string{"registry": "gar"}}

	for _, tc := range []struct {
		name       string
		rcv        Receiver
		opts       HandlerOptions
		header     map[string]string
		body       []byte
		wantCode   int
		wantObject []string
	}{
		{
			name: "Flux's documented filter on the tag and an annotation",
			rcv: Receiver{Resources: []Resource{byLabels},
				ResourceFilter: `has(res.metadata.annotations) && req.tag.split('/').last().value().split(":").first().value() == res.metadata.annotations['update-image']`},
			header: jsonCT, body: body, wantCode: http.StatusOK,
			wantObject: []string{"apps/test-resource-1", "apps/test-resource-3"},
		},
		{
			name:   "per-resource filter stacks with the top-level one",
			rcv:    Receiver{Resources: []Resource{withFilter(byLabels, "res.metadata.labels['environment'] == 'production'")}, ResourceFilter: "has(res.metadata.annotations) && req.tag.contains(res.metadata.annotations['update-image'])"},
			header: jsonCT, body: body, wantCode: http.StatusOK,
			wantObject: []string{"apps/test-resource-1"},
		},
		{
			name:   "per-resource filter alone",
			rcv:    Receiver{Resources: []Resource{withFilter(byLabels, "!has(res.metadata.annotations)")}},
			header: jsonCT, body: body, wantCode: http.StatusOK,
			wantObject: []string{"apps/bare"},
		},
		{
			name:   "filtering out a named resource",
			rcv:    Receiver{Resources: []Resource{{APIVersion: api, Kind: "ImageRepository", Name: "test-resource-2"}}, ResourceFilter: "req.tag.contains(res.metadata.name)"},
			header: jsonCT, body: body, wantCode: http.StatusOK,
		},
		{
			name:     "cross-namespace reference",
			rcv:      Receiver{Resources: []Resource{{APIVersion: api, Kind: "ImageRepository", Name: "test-resource-4", Namespace: "tenant"}}},
			wantCode: http.StatusOK, wantObject: []string{"tenant/test-resource-4"},
		},
		{
			name: "cross-namespace reference refused, the others still requested",
			rcv: Receiver{Resources: []Resource{
				{APIVersion: api, Kind: "ImageRepository", Name: "test-resource-4", Namespace: "tenant"},
				{APIVersion: api, Kind: "ImageRepository", Name: "test-resource-1"},
			}},
			opts:     HandlerOptions{NoCrossNamespaceRefs: true},
			wantCode: http.StatusInternalServerError, wantObject: []string{"apps/test-resource-1"},
		},
		{
			name:     "named resource not found",
			rcv:      Receiver{Resources: []Resource{{APIVersion: api, Kind: "ImageRepository", Name: "does-not-exist"}}},
			wantCode: http.StatusInternalServerError,
		},
		{
			name:     "no labels found is not an error",
			rcv:      Receiver{Resources: []Resource{{APIVersion: api, Kind: "ImageRepository", Name: "*", MatchLabels: map[string]string{"registry": "none"}}}},
			wantCode: http.StatusOK,
		},
		{
			name:     "wildcard without labels",
			rcv:      Receiver{Resources: []Resource{{APIVersion: api, Kind: "ImageRepository", Name: "*"}}},
			wantCode: http.StatusInternalServerError,
		},
		{
			name:     "unknown kind without apiVersion",
			rcv:      Receiver{Resources: []Resource{{Kind: "Widget", Name: "w"}}},
			wantCode: http.StatusInternalServerError,
		},
		{
			name:   "filter on a body that is not JSON",
			rcv:    Receiver{Resources: []Resource{byLabels}, ResourceFilter: "true"},
			header: jsonCT, body: []byte("{oops"), wantCode: http.StatusInternalServerError,
		},
		{
			name: "without a JSON Content-Type req is empty",
			rcv:  Receiver{Resources: []Resource{byLabels}, ResourceFilter: "size(req) == 0 && res.metadata.name == 'bare'"},
			body: body, wantCode: http.StatusOK, wantObject: []string{"apps/bare"},
		},
		{
			name:   "filter evaluation error",
			rcv:    Receiver{Resources: []Resource{byLabels}, ResourceFilter: "req.missing == 'x'"},
			header: jsonCT, body: body, wantCode: http.StatusInternalServerError,
		},
		{
			name:   "filter that does not compile",
			rcv:    Receiver{Resources: []Resource{byLabels}, ResourceFilter: "req.tag =="},
			header: jsonCT, body: body, wantCode: http.StatusInternalServerError,
		},
		{
			name:   "filter cost limit",
			rcv:    Receiver{Resources: []Resource{byLabels}, ResourceFilter: "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, a+b+c+d+e+f > 0))))))"},
			header: jsonCT, body: body, wantCode: http.StatusInternalServerError,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := tc.rcv
			rcv.Name, rcv.Namespace, rcv.Type, rcv.Token = "receiver", "apps", Generic, "token"
			opts := tc.opts
			opts.Resolver = cluster
			f := newFixture(t, opts, &rcv)
			got := f.do(t, rcv.WebhookPath(), tc.header, tc.body)
			if got != tc.wantCode {
				t.Fatalf("status %d, want %d; log:\n%s", got, tc.wantCode, f.logs.text())
			}
			if diff := cmp.Diff(tc.wantObject, f.rec.names()); diff != "" {
				t.Errorf("requested (-want +got):\n%s", diff)
			}
		})
	}
}

func withFilter(r Resource, filter string) Resource {
	r.Filter = filter
	return r
}

func TestNoResolver(t *testing.T) {
	rcv := newReceiver(Generic)
	rcv.Resources = []Resource{
		{Kind: "GitRepository", Name: "webapp"},
		{Kind: "OCIRepository", Name: "manifests", Namespace: "apps"},
		{Kind: "ImageRepository", Name: "*", MatchLabels: map[string]string{"a": "b"}},
	}
	f := newFixture(t, HandlerOptions{}, rcv)
	if got := f.do(t, rcv.WebhookPath(), nil, nil); got != http.StatusInternalServerError {
		t.Errorf("status %d, want 500 (no Resolver for '*')", got)
	}
	want := []Object{
		{APIVersion: "source.toolkit.fluxcd.io/v1", Kind: "GitRepository", Namespace: "flux-system", Name: "webapp"},
		{APIVersion: "source.toolkit.fluxcd.io/v1", Kind: "OCIRepository", Namespace: "apps", Name: "manifests"},
	}
	if diff := cmp.Diff(want, f.rec.objects); diff != "" {
		t.Errorf("requested (-want +got):\n%s", diff)
	}
}
