package helmrelease_test

import (
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
)

// crdHookChart has a CRD among its templates (not in crds/) and a
// post-install hook that is an object of that CRD's kind.
var crdHookChart = map[string]string{
	"Chart.yaml":  "apiVersion: v2\nname: crdhook\nversion: 0.1.0\n",
	"values.yaml": "group: example.com\n",
	"templates/crd.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.{{ .Values.group }}
spec:
  group: {{ .Values.group }}
  names: {kind: Gadget, listKind: GadgetList, plural: gadgets, singular: gadget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`,
	"templates/hook.yaml": `apiVersion: {{ .Values.group }}/v1
kind: Gadget
metadata:
  name: {{ .Release.Name }}
  annotations:
    helm.sh/hook: post-install
spec:
  size: 3
`,
}

// spec.persistentClient false gives Helm fresh discovery for every
// lookup: a post-install hook of a kind whose CRD the install created
// from templates is found, where one discovery client for the whole
// reconciliation (the default) does not know the kind.
func TestHelmReleasePersistentClient(t *testing.T) {
	startControllers(t)
	ns := "hr-persistent"
	sourcetest.Namespace(t, env, ns)
	srv := helmtest.New(t)
	if _, err := srv.AddChart(crdHookChart); err != nil {
		t.Fatal(err)
	}
	create(t, &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "charts", Namespace: ns},
		Spec:       sourcev1.HelmRepositorySpec{URL: srv.URL, Interval: metav1.Duration{Duration: time.Hour}},
	})
	release := func(name, group string, persistent bool) *helmv2.HelmRelease {
		hr := &helmv2.HelmRelease{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: helmv2.HelmReleaseSpec{
				Interval: metav1.Duration{Duration: time.Hour},
				Timeout:  &metav1.Duration{Duration: 90 * time.Second},
				Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
					Chart: "crdhook", SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
				}},
				PersistentClient: &persistent,
				Values:           values(t, map[string]any{"group": group}),
			},
		}
		create(t, hr)
		return hr
	}
	fresh := release("fresh", "fresh.hrgaps.gitopskit.io", false)
	persistent := release("persistent", "persistent.hrgaps.gitopskit.io", true)

	waitFor(t, fresh, releaseWait, "released", ready(helmv2.InstallSucceededReason, 1))
	gadget := &unstructured.Unstructured{}
	gadget.SetGroupVersionKind(schema.GroupVersionKind{Group: "fresh.hrgaps.gitopskit.io", Version: "v1", Kind: "Gadget"})
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "fresh"}, gadget); err != nil {
		t.Errorf("the hook's Gadget: %v", err)
	}
	waitFor(t, persistent, releaseWait, "install failed", condition(helmv2.ReleasedCondition, metav1.ConditionFalse, helmv2.InstallFailedReason))
	if c := apimeta.FindStatusCondition(persistent.Status.Conditions, helmv2.ReleasedCondition); !strings.Contains(c.Message, `no matches for kind "Gadget"`) {
		t.Errorf("install with a persistent client failed with %q, want the hook's kind unknown", c.Message)
	}
}
