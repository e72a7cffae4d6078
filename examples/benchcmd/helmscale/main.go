// Command helmscale measures the example HelmRelease controller at Flux's
// benchmark shape: N HelmReleases (N = 100, 500, 1000) of one small chart
// served by an in-process Helm repository, each installing a
// ServiceAccount, a Service, an Ingress and a Deployment with replicas 0
// (Helm's wait on, so resource readiness is part of Ready), on the local
// control plane with kwok nodes. For each N it reports the time from
// creating the HelmReleases until all are Ready and the peak RSS of the
// HelmRelease controller's process. As in Flux, the controllers run as
// processes of their own: the command builds examples/benchcmd/helm-controller
// and source-controller (with the build tags of -tags) and measures
// helm-controller, whose executable links the HelmRelease controller only.
// Each N runs in a child process with its own control plane, so peaks do
// not carry over.
//
// Every HelmRelease refers through spec.chartRef to the same HelmChart,
// so one chart artifact serves the whole fleet and the measurement is the
// release path (download, render, install, wait, status), not N chart
// fetches. Each release goes into its own namespace (created beforehand,
// not timed); the release storage stays in the HelmReleases' namespace,
// as Flux's default.
//
// The references measured in the same run are `kubectl apply
// --server-side` of the same 4N rendered objects (other names, one file,
// every N) and `helm upgrade --install --wait` of the same chart, one
// release after another (first N only, 20 releases); Flux v2.9's
// published row is printed next to ours.
//
// Usage: go run ./examples/benchcmd/helmscale [-n 100,500,1000] [-timeout 10m] [-concurrency 20] [-rows FILE] [-tags TAGS]
//
// -cpuprofile, -memprofile (allocations, written when the process stops
// once all N are Ready) and -requests apply to the helm-controller process
// of a child run (-child N -bin DIR).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/benchcmd/internal/benchproc"
	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
)

// result is what a child reports.
type result struct {
	N          int           `json:"n"`
	Ready      time.Duration `json:"ready"`
	PeakRSSKiB int64         `json:"peakRSSKiB"`
	// PeakAnonKiB is the sampled peak of anonymous memory.
	PeakAnonKiB int64 `json:"peakAnonKiB"`
	// BaseRSSKiB is the helm-controller process's peak RSS before the
	// HelmReleases are created: started, caches synced, the chart
	// artifact ready.
	BaseRSSKiB int64 `json:"baseRSSKiB"`
	// Helm is the time of HelmReleases sequential `helm upgrade --install
	// --wait` runs, when measured.
	Helm time.Duration `json:"helm,omitempty"`
	// Kubectl is the time of `kubectl apply --server-side` of the same
	// objects the releases install.
	Kubectl      time.Duration `json:"kubectl,omitempty"`
	HelmReleases int           `json:"helmReleases,omitempty"`
	Err          string        `json:"err,omitempty"`
}

const (
	namespace = "helmscale"
	// objects is the number of objects one release installs.
	objects = 4
	// helmRefReleases is the number of releases the helm CLI reference
	// installs.
	helmRefReleases = 20
)

func main() {
	ns := flag.String("n", "100,500,1000", "comma-separated HelmRelease counts")
	timeout := flag.Duration("timeout", 10*time.Minute, "how long one count may take to become Ready")
	child := flag.Int("child", 0, "internal: run one measurement with this count")
	helmRef := flag.Bool("helm", false, "internal: also time the helm CLI in the child")
	concurrency := flag.Int("concurrency", 20, "parallel HelmRelease reconciles")
	tags := flag.String("tags", "kustomize_disable_go_plugin_support", "build tags of the controller commands")
	binDir := flag.String("bin", "", "internal: directory of the built controller commands")
	diagArgs := benchproc.DiagFlags(flag.CommandLine, "helm-controller")
	rows := flag.String("rows", "", "append the measured rows (JSON lines) to this file, for the table command")
	flag.Parse()
	diag := diagArgs()
	if *child > 0 {
		r := measure(*child, *concurrency, *timeout, *helmRef, *binDir, diag)
		_ = json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	if err := parent(*ns, *rows, *tags, *concurrency, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "helmscale:", err)
		os.Exit(1)
	}
}

func parent(list, rowsFile, tags string, concurrency int, timeout time.Duration) error {
	bin, err := benchproc.BuildCommands(tags, "helm-controller", "source-controller")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)
	var results []result
	for i, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("bad count %q", s)
		}
		fmt.Fprintf(os.Stderr, ">> helmscale: %d HelmReleases (controller concurrency %d)\n", n, concurrency)
		args := []string{"-child", strconv.Itoa(n), "-concurrency", strconv.Itoa(concurrency), "-timeout", timeout.String(), "-bin", bin}
		if i == 0 {
			args = append(args, "-helm")
		}
		var r result
		if err := benchproc.RunChild(&r, args...); err != nil {
			return fmt.Errorf("child for %d: %w", n, err)
		}
		if r.Err != "" {
			return fmt.Errorf("child for %d: %s", n, r.Err)
		}
		results = append(results, r)
	}
	fmt.Println()
	fmt.Printf("HelmRelease scale: N HelmReleases of one chart (chartRef to one HelmChart from an in-process Helm repository), %d objects each (SA, Service, Ingress, Deployment replicas 0), Helm wait on\n", objects)
	fmt.Println("layout: one target namespace per release (created beforehand, not timed), release storage in the HelmReleases' namespace")
	fmt.Printf("local control plane on this machine (2 cores shared with etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok); controller concurrency %d\n", concurrency)
	fmt.Println()
	fmt.Printf("%-6s %-8s %16s %14s %18s %18s\n", "N", "objects", "all Ready (ours)", "peak RSS", "RSS before HRs", "Ready/release")
	for _, r := range results {
		fmt.Printf("%-6d %-8d %16s %10.1f MiB %14.1f MiB %15.1f ms\n", r.N, objects*r.N, r.Ready.Round(100*time.Millisecond),
			float64(r.PeakRSSKiB)/1024, float64(r.BaseRSSKiB)/1024, float64(r.Ready.Milliseconds())/float64(r.N))
	}
	fmt.Println("(peak RSS is the helm-controller process; source-controller runs in another, as in Flux; RSS before HRs is its peak before the first HelmRelease)")
	fmt.Println()
	for _, r := range results {
		if r.Helm > 0 {
			per := r.Helm / time.Duration(r.HelmReleases)
			fmt.Printf("reference, same run: helm upgrade --install --wait, %d releases one after another: %s (%s per release; ours at N=%d: %s per release)\n",
				r.HelmReleases, r.Helm.Round(100*time.Millisecond), per.Round(time.Millisecond), r.N, (r.Ready / time.Duration(r.N)).Round(time.Millisecond))
		}
	}
	rows := make([]benchproc.Row, 0, len(results))
	for _, r := range results {
		rows = append(rows, benchproc.Row{Kind: "HelmRelease", N: r.N, Ready: r.Ready, PeakRSSKiB: r.PeakRSSKiB, PeakAnonKiB: r.PeakAnonKiB, Kubectl: r.Kubectl,
			KubectlWhat: "the same 4N objects the releases install, rendered (other names, one file; no release storage)"})
	}
	fmt.Println()
	benchproc.PrintTable(os.Stdout, rows)
	return benchproc.AppendRows(rowsFile, rows...)
}

// measure runs one child measurement; errors are reported in the result.
func measure(n, concurrency int, timeout time.Duration, withHelm bool, bin string, diag []string) result {
	r, err := measureErr(n, concurrency, timeout, withHelm, bin, diag)
	if err != nil {
		r.Err = err.Error()
	}
	return r
}

func measureErr(n, concurrency int, timeout time.Duration, withHelm bool, bin string, diag []string) (result, error) {
	res := result{N: n}
	if bin == "" {
		return res, fmt.Errorf("-bin is required with -child")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl, err := benchproc.StartCluster(ctx, "gitopskit-helmscale-")
	if err != nil {
		return res, err
	}
	defer cl.Close()
	env, work := cl.Env, cl.Work

	repo := helmtest.Start()
	defer repo.Close()
	if _, err := repo.AddChart(chart()); err != nil {
		return res, fmt.Errorf("packaging the chart: %w", err)
	}

	store := filepath.Join(work, "store")
	if err := os.MkdirAll(store, 0o755); err != nil {
		return res, err
	}
	sources, err := benchproc.StartProcess(filepath.Join(bin, "source-controller"),
		"-kubeconfig", env.KubeconfigPath, "-storage-path", store)
	if err != nil {
		return res, err
	}
	defer sources.Stop()
	helm, err := benchproc.StartProcess(filepath.Join(bin, "helm-controller"), append([]string{
		"-kubeconfig", env.KubeconfigPath, "-concurrency", strconv.Itoa(concurrency)}, diag...)...)
	if err != nil {
		return res, err
	}
	defer helm.Stop()

	c := env.Client
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return res, err
	}
	if err := c.Create(ctx, &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "charts", Namespace: namespace},
		Spec:       sourcev1.HelmRepositorySpec{URL: repo.URL, Interval: metav1.Duration{Duration: time.Hour}},
	}); err != nil {
		return res, err
	}
	hc := &sourcev1.HelmChart{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: namespace},
		Spec: sourcev1.HelmChartSpec{
			Chart: "app", Version: "*", Interval: metav1.Duration{Duration: time.Hour},
			SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
		},
	}
	if err := c.Create(ctx, hc); err != nil {
		return res, err
	}
	if err := benchproc.WaitFor(ctx, time.Minute, func() (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(hc), hc); err != nil {
			return false, err
		}
		return hc.Status.Artifact != nil, nil
	}); err != nil {
		return res, fmt.Errorf("HelmChart: %w", err)
	}

	base, err := helm.Memory()
	if err != nil {
		return res, err
	}
	res.BaseRSSKiB = base.Peak
	for i := range n {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: target(i)}}); err != nil {
			return res, err
		}
	}
	start := time.Now()
	for i := range n {
		name := fmt.Sprintf("app-%04d", i)
		vals, err := json.Marshal(map[string]any{"app": name})
		if err != nil {
			return res, err
		}
		hr := &helmv2.HelmRelease{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
			Spec: helmv2.HelmReleaseSpec{
				Interval:        metav1.Duration{Duration: time.Hour},
				ChartRef:        &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.HelmChartKind, Name: "app"},
				TargetNamespace: target(i),
				ReleaseName:     name,
				Values:          &apiextensionsv1.JSON{Raw: vals},
			},
		}
		if err := c.Create(ctx, hr); err != nil {
			return res, err
		}
	}
	if err := benchproc.WaitAllReady(ctx, timeout, n, start, func() (int, error) {
		var list helmv2.HelmReleaseList
		if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
			return 0, err
		}
		ready := 0
		for _, hr := range list.Items {
			if apimeta.IsStatusConditionTrue(hr.Status.Conditions, "Ready") && hr.Status.ObservedGeneration == hr.Generation {
				ready++
			}
		}
		return ready, nil
	}); err != nil {
		return res, fmt.Errorf("waiting for Ready: %w%s", err, notReady(ctx, c))
	}
	res.Ready = time.Since(start)
	use, err := helm.Stop()
	if err != nil {
		return res, err
	}
	res.PeakRSSKiB, res.PeakAnonKiB = use.PeakRSSKiB, use.PeakAnonKiB
	if use, err := sources.Stop(); err == nil {
		fmt.Fprintf(os.Stderr, "   source-controller peak RSS %.1f MiB (anon %.1f)\n", float64(use.PeakRSSKiB)/1024, float64(use.PeakAnonKiB)/1024)
	}
	if res.Kubectl, err = kubectlApply(env.KubeconfigPath, work, n); err != nil {
		return res, err
	}
	if withHelm {
		if res.Helm, err = helmInstall(env.KubeconfigPath, work, helmRefReleases); err != nil {
			return res, err
		}
		res.HelmReleases = helmRefReleases
	}
	return res, nil
}

func target(i int) string { return fmt.Sprintf("app-%04d", i) }

// notReady describes the first HelmRelease that is not Ready, for the
// error of a timed-out wait.
func notReady(ctx context.Context, c client.Client) string {
	var list helmv2.HelmReleaseList
	if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return ""
	}
	for _, hr := range list.Items {
		cond := apimeta.FindStatusCondition(hr.Status.Conditions, "Ready")
		if cond == nil {
			return fmt.Sprintf(" (%s has no Ready condition)", hr.Name)
		}
		if cond.Status != metav1.ConditionTrue {
			return fmt.Sprintf(" (%s: %s: %s)", hr.Name, cond.Reason, cond.Message)
		}
	}
	return ""
}

// chart returns the files of the benchmark's chart: a ServiceAccount, a
// Service, an Ingress and a Deployment scaled to zero, the objects of
// Flux's benchmark app.
func chart() map[string]string {
	return map[string]string{
		"Chart.yaml": "apiVersion: v2\nname: app\nversion: 1.0.0\nappVersion: \"1.0.0\"\n",
		"values.yaml": `app: app
replicas: 0
image: nginx:1.27
port: 80
`,
		"templates/serviceaccount.yaml": `apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .Release.Name }}
  labels:
    app: {{ .Values.app }}
`,
		"templates/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
  labels:
    app: {{ .Values.app }}
spec:
  selector:
    app: {{ .Values.app }}
  ports:
  - port: {{ .Values.port }}
`,
		"templates/ingress.yaml": `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ .Release.Name }}
  labels:
    app: {{ .Values.app }}
spec:
  rules:
  - host: {{ .Values.app }}.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: {{ .Release.Name }}
            port:
              number: {{ .Values.port }}
`,
		"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    app: {{ .Values.app }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      app: {{ .Values.app }}
  template:
    metadata:
      labels:
        app: {{ .Values.app }}
    spec:
      serviceAccountName: {{ .Release.Name }}
      containers:
      - name: web
        image: {{ .Values.image }}
        ports:
        - containerPort: {{ .Values.port }}
`,
	}
}

// helmInstall times `helm upgrade --install --wait` of the same chart, n
// releases one after another, into a fresh namespace.
func helmInstall(kubeconfig, work string, n int) (time.Duration, error) {
	helm, err := testbin.Path("helm")
	if err != nil {
		return 0, err
	}
	archive, err := helmtest.Package(chart())
	if err != nil {
		return 0, err
	}
	file := filepath.Join(work, "app-1.0.0.tgz")
	if err := os.WriteFile(file, archive, 0o644); err != nil {
		return 0, err
	}
	home := filepath.Join(work, "helm-home")
	start := time.Now()
	for i := range n {
		name := fmt.Sprintf("ref-%04d", i)
		cmd := exec.Command(helm, "upgrade", "--install", name, file, "--kubeconfig", kubeconfig,
			"--namespace", "helm-reference", "--create-namespace", "--wait", "--set", "app="+name)
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("helm upgrade --install %s: %w: %s", name, err, out)
		}
	}
	return time.Since(start), nil
}

// kubectlApply times `kubectl apply --server-side` of the objects n
// releases of the chart install, rendered with other names into one file
// and one namespace.
func kubectlApply(kubeconfig, work string, n int) (time.Duration, error) {
	kubectl, err := testbin.Path("kubectl")
	if err != nil {
		return 0, err
	}
	const refNamespace = "kubectl-reference"
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n---\n", refNamespace)
	files := chart()
	for i := range n {
		name := fmt.Sprintf("ref-%04d", i)
		for _, f := range []string{"templates/serviceaccount.yaml", "templates/service.yaml", "templates/ingress.yaml", "templates/deployment.yaml"} {
			doc := strings.NewReplacer(
				"{{ .Release.Name }}", name, "{{ .Values.app }}", name, "{{ .Values.port }}", "80",
				"{{ .Values.replicas }}", "0", "{{ .Values.image }}", "nginx:1.27",
				"metadata:\n  name:", "metadata:\n  namespace: "+refNamespace+"\n  name:",
			).Replace(files[f])
			b.WriteString(doc)
			b.WriteString("---\n")
		}
	}
	file := filepath.Join(work, "reference.yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		return 0, err
	}
	return benchproc.KubectlApply(kubectl, kubeconfig, file)
}
