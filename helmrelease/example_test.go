package helmrelease_test

import (
	"context"
	"fmt"

	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/kustomize"
)

// ExampleComposeValues composes values from a ConfigMap, a single value of
// a Secret set at a target path, and inline values, as Flux does.
func ExampleComposeValues() {
	objects := helmrelease.ValuesData{
		{Kind: "ConfigMap", Name: "defaults"}: {"values.yaml": []byte("replicas: 2\nimage:\n  tag: v1\n")},
		{Kind: "Secret", Name: "db"}:          {"password": []byte("s3cr3t")},
	}
	out, err := helmrelease.ComposeValues(context.Background(), helmrelease.ValuesOptions{
		From: []helmrelease.ValuesReference{
			{Kind: "ConfigMap", Name: "defaults"},
			{Kind: "Secret", Name: "db", ValuesKey: "password", TargetPath: "db.password"},
			{Kind: "ConfigMap", Name: "absent", Optional: true},
		},
		Getter: objects,
		Values: map[string]any{"image": map[string]any{"tag": "v2"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Values["replicas"], out.Values["image"], out.Values["db"])

	_, err = helmrelease.ComposeValues(context.Background(), helmrelease.ValuesOptions{
		From:   []helmrelease.ValuesReference{{Kind: "Secret", Name: "db"}},
		Getter: objects,
	})
	fmt.Println(err)
	// Output:
	// 2 map[tag:v2] map[password:s3cr3t]
	// could not resolve Secret chart values reference "db" with key "values.yaml": key not found
}

// ExampleReleaseName derives release names as Flux does.
func ExampleReleaseName() {
	fmt.Println(helmrelease.ReleaseName("podinfo", "apps", ""))
	fmt.Println(helmrelease.ReleaseName("a-release-name-that-is-quite-long", "a-target-namespace-also-long", ""))
	// Output:
	// apps-podinfo
	// a-target-namespace-also-long-a-release-n-ee82d0f864f3
}

// ExampleRender renders a chart offline with Flux's post-renderers: an
// image override and the origin labels.
func ExampleRender() {
	ch, err := helmrelease.LoadChartDir("testdata/app")
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := helmrelease.Render(context.Background(), ch, helmrelease.RenderOptions{
		ReleaseName: "web",
		Namespace:   "apps",
		Values:      map[string]any{"replicaCount": 3},
		PostRenderers: helmrelease.FluxPostRenderers("flux-system", "web", []helmrelease.Kustomize{{
			Images: []kustomize.Image{{Name: "ghcr.io/example/app", NewTag: "4.5.7"}},
		}}, nil),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range out.Objects {
		fmt.Println(o.GetKind(), o.GetName(), o.GetLabels()["helm.toolkit.fluxcd.io/name"])
	}
	for _, h := range out.Hooks {
		fmt.Println("hook", h.Kind, h.Name, h.Events)
	}
	// Output:
	// ConfigMap web-app web
	// Service web-app web
	// Deployment web-app web
	// hook Pod web-app-test [test]
	// hook Job web-app-migrate [pre-install pre-upgrade]
}
