package main

import (
	"context"
	"fmt"
	"time"

	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notifyv1 "github.com/fluxcd/notification-controller/api/v1"
	notifyv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"

	"github.com/gitopskit/gitopskit/reconcile"
)

const (
	// gitInterval is the GitRepository's interval: long, so that what
	// arrives sooner was brought by the Receiver.
	gitInterval = 10 * time.Minute
)

// alertKinds are the kinds an Alert can watch.
func alertKinds() []string {
	return []string{
		sourcev1.GitRepositoryKind, sourcev1.OCIRepositoryKind, sourcev1.HelmRepositoryKind, sourcev1.HelmChartKind, sourcev1.BucketKind,
		kustomizev1.KustomizationKind, helmv2.HelmReleaseKind,
		imagev1.ImageRepositoryKind, imagev1.ImagePolicyKind, imageautov1.ImageUpdateAutomationKind,
	}
}

func (d *demo) createObjects(ctx context.Context, ageKey, chartsURL string) error {
	every := func(interval time.Duration) metav1.Duration { return metav1.Duration{Duration: interval} }
	var sources []notifyv1.CrossNamespaceObjectReference
	for _, k := range alertKinds() {
		sources = append(sources, notifyv1.CrossNamespaceObjectReference{Kind: k, Name: "*"})
	}
	objs := []client.Object{
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "sops-age", Namespace: demoNamespace},
			Data:       map[string][]byte{"identity.agekey": []byte(ageKey)},
		},
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "cluster-vars", Namespace: demoNamespace},
			Data:       map[string]string{"cluster_name": "demo-cluster"},
		},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "webhook-token", Namespace: demoNamespace},
			Data:       map[string][]byte{"token": []byte(d.webhookSecret)},
		},
		// Notifications first, so that they see every event.
		&notifyv1beta3.Provider{
			ObjectMeta: metav1.ObjectMeta{Name: "sink", Namespace: demoNamespace},
			Spec:       notifyv1beta3.ProviderSpec{Type: "generic", Address: d.sink.srv.URL + "/flux"},
		},
		&notifyv1beta3.Alert{
			ObjectMeta: metav1.ObjectMeta{Name: "everything", Namespace: demoNamespace},
			Spec: notifyv1beta3.AlertSpec{ProviderRef: meta.LocalObjectReference{Name: "sink"},
				EventSeverity: "info", EventSources: sources},
		},
		&notifyv1.Receiver{
			ObjectMeta: metav1.ObjectMeta{Name: "github", Namespace: demoNamespace},
			Spec: notifyv1.ReceiverSpec{Type: notifyv1.GitHubReceiver, Events: []string{"push"},
				SecretRef: &meta.LocalObjectReference{Name: "webhook-token"},
				Resources: []notifyv1.ReceiverResource{{CrossNamespaceObjectReference: notifyv1.CrossNamespaceObjectReference{
					Kind: sourcev1.GitRepositoryKind, Name: "fleet"}}}},
		},
		&sourcev1.GitRepository{
			ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: demoNamespace},
			Spec: sourcev1.GitRepositorySpec{URL: d.repo.URL, Interval: every(gitInterval),
				Reference: &sourcev1.GitRepositoryRef{Branch: "main"}},
		},
		&sourcev1.HelmRepository{
			ObjectMeta: metav1.ObjectMeta{Name: "charts", Namespace: demoNamespace},
			Spec:       sourcev1.HelmRepositorySpec{URL: chartsURL, Interval: every(10 * time.Minute)},
		},
		&sourcev1.OCIRepository{
			ObjectMeta: metav1.ObjectMeta{Name: "apps", Namespace: demoNamespace},
			Spec: sourcev1.OCIRepositorySpec{URL: d.registry.URL(appsArtifact), Insecure: true, Interval: every(10 * time.Minute),
				Reference: &sourcev1.OCIRepositoryRef{Tag: "latest"}},
		},
		&kustomizev1.Kustomization{
			ObjectMeta: metav1.ObjectMeta{Name: "infrastructure", Namespace: demoNamespace},
			Spec: kustomizev1.KustomizationSpec{
				Interval:   every(10 * time.Minute),
				Path:       "./infrastructure",
				Prune:      true,
				SourceRef:  kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"},
				Decryption: &kustomizev1.Decryption{Provider: "sops", SecretRef: &meta.LocalObjectReference{Name: "sops-age"}},
			},
		},
		&kustomizev1.Kustomization{
			ObjectMeta: metav1.ObjectMeta{Name: "apps", Namespace: demoNamespace,
				// A dependency of another kind: the HelmRelease the
				// infrastructure Kustomization applies.
				Annotations: map[string]string{reconcile.DependsOnAnnotation: reconcile.DependsOnKindHelmRelease + "/backend"}},
			Spec: kustomizev1.KustomizationSpec{
				Interval:  every(10 * time.Minute),
				Path:      "./",
				Prune:     true,
				Wait:      true,
				DependsOn: []kustomizev1.DependencyReference{{Name: "infrastructure"}},
				SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: "apps"},
				PostBuild: &kustomizev1.PostBuild{
					Substitute:     map[string]string{"cluster_env": "staging"},
					SubstituteFrom: []kustomizev1.SubstituteReference{{Kind: "ConfigMap", Name: "cluster-vars"}},
				},
			},
		},
		&imagev1.ImageRepository{
			ObjectMeta: metav1.ObjectMeta{Name: proxyImage, Namespace: demoNamespace},
			Spec:       imagev1.ImageRepositorySpec{Image: d.image, Insecure: true, Interval: every(10 * time.Minute)},
		},
		&imagev1.ImagePolicy{
			ObjectMeta: metav1.ObjectMeta{Name: proxyImage, Namespace: demoNamespace},
			Spec: imagev1.ImagePolicySpec{
				ImageRepositoryRef: meta.NamespacedObjectReference{Name: proxyImage},
				Policy:             imagev1.ImagePolicyChoice{SemVer: &imagev1.SemVerPolicy{Range: ">=1.0.0"}},
			},
		},
		&imageautov1.ImageUpdateAutomation{
			ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: demoNamespace},
			Spec: imageautov1.ImageUpdateAutomationSpec{
				SourceRef: imageautov1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"},
				Interval:  every(10 * time.Minute),
				GitSpec: &imageautov1.GitSpec{Commit: imageautov1.CommitSpec{
					Author:          imageautov1.CommitUser{Name: "fluxbot", Email: "fluxbot@example.com"},
					MessageTemplate: `Update images{{ range .Changed.Changes }}: {{ .OldValue }} -> {{ .NewValue }}{{ end }}`,
				}},
				Update: &imageautov1.UpdateStrategy{Strategy: imageautov1.UpdateStrategySetters, Path: "./infrastructure"},
			},
		},
	}
	for _, o := range objs {
		if err := d.c.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %s %s: %w", d.kindOf(o), o.GetName(), err)
		}
	}
	d.info("Secrets sops-age (the age key), webhook-token; ConfigMap cluster-vars")
	d.info("Provider sink (generic webhook) and Alert everything (%d kinds, severity info)", len(alertKinds()))
	d.info("Receiver github (push events for GitRepository fleet)")
	d.info("GitRepository fleet (interval %s), HelmRepository charts, OCIRepository apps", gitInterval)
	d.info("Kustomization infrastructure (Git, SOPS decryption): Namespace, HelmRelease backend, its values Secret, Deployment edge-proxy")
	d.info("Kustomization apps (OCI), dependsOn Kustomization/infrastructure and, across kinds (%s), HelmRelease/backend", reconcile.DependsOnAnnotation)
	d.info("ImageRepository, ImagePolicy (semver >=1.0.0) and ImageUpdateAutomation for %s", proxyImage)
	return nil
}

func (d *demo) kindOf(o client.Object) string {
	gvk, err := apiutil.GVKForObject(o, d.c.Scheme())
	if err != nil {
		return fmt.Sprintf("%T", o)
	}
	return gvk.Kind
}

// requestReconcile sets reconcile.fluxcd.io/requestedAt, as `flux
// reconcile` does.
func (d *demo) requestReconcile(ctx context.Context, obj client.Object) error {
	if err := d.c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return err
	}
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[meta.ReconcileRequestAnnotation] = time.Now().Format(time.RFC3339Nano)
	obj.SetAnnotations(ann)
	return d.c.Patch(ctx, obj, patch)
}

// cleanup deletes the demo's objects from an existing cluster, letting the
// controllers prune what they applied and uninstall the release.
func (d *demo) cleanup(ctx context.Context) error {
	d.step("Cleaning up the demo objects (Kustomizations prune what they applied, the release is uninstalled)")
	ctx, cancel := context.WithTimeout(ctx, d.o.timeout)
	defer cancel()
	gone := func(obj client.Object) error {
		for {
			err := d.c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
			if apierrors.IsNotFound(err) {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s %s to be deleted: %w", d.kindOf(obj), obj.GetName(), ctx.Err())
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	for _, name := range []string{"apps", "infrastructure"} {
		k := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: demoNamespace}}
		if err := client.IgnoreNotFound(d.c.Delete(ctx, k)); err != nil {
			return err
		}
		if err := gone(k); err != nil {
			return err
		}
	}
	// The infrastructure pruned the HelmRelease; its finalizer uninstalls
	// the release.
	hr := &helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Name: "backend", Namespace: demoNamespace}}
	if err := client.IgnoreNotFound(d.c.Delete(ctx, hr)); err != nil {
		return err
	}
	if err := gone(hr); err != nil {
		return err
	}
	return client.IgnoreNotFound(d.c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: demoNamespace}}))
}

func objectMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: demoNamespace}
}
