package ctrlcmd

import "testing"

func TestRequestResource(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v1/namespaces/x/configmaps/y":                                         "configmaps",
		"/api/v1/namespaces/x/configmaps":                                           "configmaps",
		"/api/v1/namespaces/x":                                                      "namespaces",
		"/apis/apps/v1/namespaces/x/deployments/web":                                "deployments",
		"/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/x/kustomizations/a/status": "kustomizations/status",
		"/apis/source.toolkit.fluxcd.io/v1/ocirepositories":                         "ocirepositories",
		"/api":     "discovery",
		"/healthz": "/healthz",
	} {
		if got := resource(path); got != want {
			t.Errorf("resource(%q) = %q, want %q", path, got, want)
		}
	}
}
