//go:build wip_fluxcli

package controllers_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notifyv1 "github.com/fluxcd/notification-controller/api/v1"
	notifyv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/controllers"
	"github.com/gitopskit/gitopskit/examples/fluxscheme"
	"github.com/gitopskit/gitopskit/examples/notification"
	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/source/git/gittest"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// fluxCLINamespace holds every object of TestFluxCLI.
const fluxCLINamespace = "fluxcli"

// fluxCLIObject is one Flux object the CLI is run against.
type fluxCLIObject struct {
	gvk  schema.GroupVersionKind
	name string
	// static objects have no status (v1beta3 Alerts and Providers).
	static bool
}

// fluxCLIFixture is what TestFluxCLI set up.
type fluxCLIFixture struct {
	c    client.Client
	repo *gittest.Repo
	// ociRev, bucketRev are the revisions the sources must report.
	ociRev string
	// appsDir is a checkout of the apps directory of the Git repository.
	appsDir string
}

// TestFluxCLI runs the real flux CLI (bin/flux, v2.9.5) against the example
// controllers (controllers.Start and the notification controller) with an
// object of every kind Flux's get, reconcile, suspend, resume, events,
// tree, diff and trace commands know, and checks each command's exit status
// and what it prints.
func TestFluxCLI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := fluxCLISetup(ctx, t)
	flux := testbin.Tool(t, "flux")
	ns := fluxCLINamespace

	run := func(t *testing.T, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(flux, append([]string{"--kubeconfig", env.KubeconfigPath, "--timeout", "90s"}, args...)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("flux %s: %v", strings.Join(args, " "), err)
		}
		return out.String(), code
	}
	// expect runs flux and checks its exit code and that every pattern
	// matches its output (multi-line mode).
	expect := func(t *testing.T, wantCode int, patterns []string, args ...string) string {
		t.Helper()
		out, code := run(t, args...)
		if code != wantCode {
			t.Errorf("flux %s: exit %d, want %d\n%s", strings.Join(args, " "), code, wantCode, out)
			return out
		}
		for _, p := range patterns {
			if !regexp.MustCompile("(?m)" + p).MatchString(out) {
				t.Errorf("flux %s: output does not match %s\n%s", strings.Join(args, " "), p, out)
			}
		}
		return out
	}

	t.Run("get", func(t *testing.T) {
		for _, args := range [][]string{
			{"get", "all", "-A"},
			{"get", "sources", "git", "-n", ns},
			{"get", "sources", "oci", "-n", ns},
			{"get", "sources", "helm", "-n", ns},
			{"get", "sources", "bucket", "-n", ns},
			{"get", "sources", "chart", "-n", ns},
			{"get", "kustomizations", "-n", ns},
			{"get", "helmreleases", "-n", ns},
			{"get", "images", "all", "-n", ns},
			{"get", "alerts", "-n", ns},
			{"get", "alert-providers", "-n", ns},
			{"get", "receivers", "-n", ns},
		} {
			out, code := run(t, args...)
			t.Logf("flux %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	})
	_ = f
	_ = expect
}

// fluxCLISetup starts the servers, the controllers and the objects, and
// waits until every object is Ready.
func fluxCLISetup(ctx context.Context, t *testing.T) *fluxCLIFixture {
	t.Helper()
	ns := fluxCLINamespace
	scheme, err := fluxscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	f := &fluxCLIFixture{c: c}
	create := func(objs ...client.Object) {
		t.Helper()
		for _, o := range objs {
			if o.GetNamespace() == "" && o.GetObjectKind().GroupVersionKind().Kind != "Namespace" {
				o.SetNamespace(ns)
			}
			if err := c.Create(ctx, o); err != nil {
				t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
			}
		}
	}
	create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})

	// The controllers.
	nc, err := notification.Start(ctx, env.Config, notification.Options{SkipNameValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := nc.Stop(); err != nil {
			t.Errorf("notification controller: %v", err)
		}
	})
	running, err := controllers.Start(ctx, controllers.Config{
		REST: env.Config, StoreDir: t.TempDir(), SkipNameValidation: true,
		DependencyRequeueInterval: time.Second, HealthPollInterval: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := running.Stop(); err != nil {
			t.Errorf("controllers: %v", err)
		}
	})

	// Git: the apps a Kustomization applies, and a Deployment whose image
	// an ImageUpdateAutomation keeps at the policy's tag.
	reg := ocitest.New(t)
	img := reg.Host + "/web"
	if _, err := reg.PushFiles(ctx, "web", "1.0.0", map[string]string{"tag.txt": "1.0.0"}, oci.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	gitSrv := gittest.NewHTTPServer(t)
	f.repo = gitSrv.NewRepo(t, "fleet")
	f.repo.Commit("fleet", map[string]string{
		"apps/app-config.yaml":   fluxCLIConfigMap("app-config", "hello"),
		"apps/app-settings.yaml": fluxCLIConfigMap("app-settings", "on"),
		"image/web.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: %s:1.0.0 # {"$imagepolicy": "%s:web"}
`, img, ns),
	})

	// OCI: an artifact of manifests.
	pushed, err := reg.PushFiles(ctx, "manifests", "v1", map[string]string{"cm.yaml": fluxCLIConfigMap("oci-config", "v1")}, oci.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.ociRev = pushed.Revision

	// Helm: a chart repository with one chart.
	charts := helmtest.New(t)
	if _, err := charts.AddChart(map[string]string{
		"Chart.yaml":  "apiVersion: v2\nname: app\nversion: 1.0.0\nappVersion: \"1.0\"\n",
		"values.yaml": "greeting: hello\n",
		"templates/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  greeting: {{ .Values.greeting | quote }}
`,
	}); err != nil {
		t.Fatal(err)
	}

	// S3: a versitygw gateway with one bucket.
	s3 := fluxCLIStartS3(ctx, t)
	if err := s3.MakeBucket(ctx, "fleet", minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		t.Fatal(err)
	}
	body := fluxCLIConfigMap("bucket-config", "one")
	if _, err := s3.PutObject(ctx, "fleet", "cm.yaml", strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}

	// A sink for the notification Provider.
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(sink.Close)

	hour := metav1.Duration{Duration: time.Hour}
	create(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3-auth"},
			Data: map[string][]byte{"accesskey": []byte(fluxCLIS3Access), "secretkey": []byte(fluxCLIS3Secret)}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "webhook-token"},
			Data: map[string][]byte{"token": []byte("fluxcli-token")}},
		&sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: "fleet"}, Spec: sourcev1.GitRepositorySpec{
			URL: f.repo.URL, Interval: hour, Reference: &sourcev1.GitRepositoryRef{Branch: "main"}}},
		&sourcev1.OCIRepository{ObjectMeta: metav1.ObjectMeta{Name: "manifests"}, Spec: sourcev1.OCIRepositorySpec{
			URL: "oci://" + reg.Host + "/manifests", Insecure: true, Interval: hour, Reference: &sourcev1.OCIRepositoryRef{Tag: "v1"}}},
		&sourcev1.HelmRepository{ObjectMeta: metav1.ObjectMeta{Name: "charts"}, Spec: sourcev1.HelmRepositorySpec{
			URL: charts.URL, Interval: hour}},
		&sourcev1.HelmChart{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Spec: sourcev1.HelmChartSpec{
			Chart: "app", Version: "*", Interval: hour,
			SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"}}},
		&sourcev1.Bucket{ObjectMeta: metav1.ObjectMeta{Name: "fleet"}, Spec: sourcev1.BucketSpec{
			Provider: sourcev1.BucketProviderGeneric, BucketName: "fleet", Endpoint: s3.EndpointURL().Host, Region: "us-east-1",
			Insecure: true, Interval: hour, SecretRef: &meta.LocalObjectReference{Name: "s3-auth"}}},
		&kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "apps"}, Spec: kustomizev1.KustomizationSpec{
			Interval: hour, Path: "./apps", Prune: true, TargetNamespace: ns,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"}}},
		&kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "oci"}, Spec: kustomizev1.KustomizationSpec{
			Interval: hour, Path: "./", Prune: true, TargetNamespace: ns,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: "manifests"}}},
		&helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: helmv2.HelmReleaseSpec{
			Interval: hour, Timeout: &metav1.Duration{Duration: time.Minute},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart: "app", SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"}}}}},
		&imagev1.ImageRepository{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: imagev1.ImageRepositorySpec{
			Image: img, Insecure: true, Interval: hour}},
		&imagev1.ImagePolicy{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: imagev1.ImagePolicySpec{
			ImageRepositoryRef: meta.NamespacedObjectReference{Name: "web"},
			Policy:             imagev1.ImagePolicyChoice{SemVer: &imagev1.SemVerPolicy{Range: ">=1.0.0"}}}},
		&imageautov1.ImageUpdateAutomation{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: imageautov1.ImageUpdateAutomationSpec{
			SourceRef: imageautov1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"},
			Interval:  hour,
			GitSpec: &imageautov1.GitSpec{Commit: imageautov1.CommitSpec{
				Author: imageautov1.CommitUser{Name: "fluxbot", Email: "fluxbot@example.com"}}},
			Update: &imageautov1.UpdateStrategy{Strategy: imageautov1.UpdateStrategySetters, Path: "./image"}}},
		&notifyv1beta3.Provider{ObjectMeta: metav1.ObjectMeta{Name: "sink"}, Spec: notifyv1beta3.ProviderSpec{
			Type: "generic", Address: sink.URL}},
		&notifyv1beta3.Alert{ObjectMeta: metav1.ObjectMeta{Name: "all"}, Spec: notifyv1beta3.AlertSpec{
			ProviderRef: meta.LocalObjectReference{Name: "sink"},
			EventSources: []notifyv1.CrossNamespaceObjectReference{
				{Kind: kustomizev1.KustomizationKind, Name: "*"}, {Kind: helmv2.HelmReleaseKind, Name: "*"}}}},
		&notifyv1.Receiver{ObjectMeta: metav1.ObjectMeta{Name: "hook"}, Spec: notifyv1.ReceiverSpec{
			Type: "generic", SecretRef: &meta.LocalObjectReference{Name: "webhook-token"},
			Resources: []notifyv1.ReceiverResource{{CrossNamespaceObjectReference: notifyv1.CrossNamespaceObjectReference{
				Kind: sourcev1.GitRepositoryKind, Name: "fleet"}}}}},
	)
	for _, o := range fluxCLIObjects() {
		if !o.static {
			fluxCLIWaitReady(t, c, o, 2*time.Minute)
		}
	}
	return f
}

// fluxCLIObjects are the objects fluxCLISetup creates.
func fluxCLIObjects() []fluxCLIObject {
	src, ks, hr := sourcev1.GroupVersion, kustomizev1.GroupVersion, helmv2.GroupVersion
	img, auto, nt, ntb := imagev1.GroupVersion, imageautov1.GroupVersion, notifyv1.GroupVersion, notifyv1beta3.GroupVersion
	return []fluxCLIObject{
		{gvk: src.WithKind(sourcev1.GitRepositoryKind), name: "fleet"},
		{gvk: src.WithKind(sourcev1.OCIRepositoryKind), name: "manifests"},
		{gvk: src.WithKind(sourcev1.HelmRepositoryKind), name: "charts"},
		{gvk: src.WithKind(sourcev1.HelmChartKind), name: "app"},
		{gvk: src.WithKind(sourcev1.BucketKind), name: "fleet"},
		{gvk: ks.WithKind(kustomizev1.KustomizationKind), name: "apps"},
		{gvk: ks.WithKind(kustomizev1.KustomizationKind), name: "oci"},
		{gvk: hr.WithKind(helmv2.HelmReleaseKind), name: "web"},
		{gvk: img.WithKind(imagev1.ImageRepositoryKind), name: "web"},
		{gvk: img.WithKind(imagev1.ImagePolicyKind), name: "web"},
		{gvk: auto.WithKind(imageautov1.ImageUpdateAutomationKind), name: "web"},
		{gvk: ntb.WithKind(notifyv1beta3.ProviderKind), name: "sink", static: true},
		{gvk: ntb.WithKind(notifyv1beta3.AlertKind), name: "all", static: true},
		{gvk: nt.WithKind(notifyv1.ReceiverKind), name: "hook"},
	}
}

// fluxCLIWaitReady polls o until it is Ready=True for its generation.
func fluxCLIWaitReady(t *testing.T, c client.Client, o fluxCLIObject, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(o.gvk)
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKey{Namespace: fluxCLINamespace, Name: o.name}, u); err != nil {
			return false, err
		}
		return fluxCLIReady(u), nil
	})
	if err != nil {
		t.Fatalf("%s %s Ready: %v\nstatus: %v", o.gvk.Kind, o.name, err, u.Object["status"])
	}
}

// fluxCLIReady reports whether u has a Ready=True condition and has
// observed its generation.
func fluxCLIReady(u *unstructured.Unstructured) bool {
	gen, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	raw, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var conds []metav1.Condition
	for _, r := range raw {
		m, _ := r.(map[string]any)
		typ, _ := m["type"].(string)
		status, _ := m["status"].(string)
		conds = append(conds, metav1.Condition{Type: typ, Status: metav1.ConditionStatus(status)})
	}
	return gen == u.GetGeneration() && apimeta.IsStatusConditionTrue(conds, meta.ReadyCondition)
}

// fluxCLIConfigMap is a ConfigMap manifest with one key.
func fluxCLIConfigMap(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  value: %q\n", name, value)
}

const (
	fluxCLIS3Access = "AKIAFLUXCLITEST"
	fluxCLIS3Secret = "fluxcli-secret-Hq3vT8"
)

// fluxCLIStartS3 starts a versitygw gateway (posix backend) until the
// test ends and returns a client of it.
func fluxCLIStartS3(ctx context.Context, t *testing.T) *minio.Client {
	t.Helper()
	bin := testbin.Tool(t, "versitygw")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var logs bytes.Buffer
	dir := filepath.Join(t.TempDir(), "s3")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--access", fluxCLIS3Access, "--secret", fluxCLIS3Secret, "--region", "us-east-1", "--port", addr, "posix", dir)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("versitygw output:\n%s", logs.String())
		}
	})
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := wait.PollUntilContextCancel(pctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
		}
		return err == nil, nil
	}); err != nil {
		t.Fatalf("versitygw listening on %s: %v", addr, err)
	}
	s3, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(fluxCLIS3Access, fluxCLIS3Secret, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return s3
}
