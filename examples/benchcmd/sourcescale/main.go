// Command sourcescale measures the example source controllers at Flux's
// benchmark shape for sources: N OCIRepositories (N = 100, 500, 1000), each
// pulling its own artifact from an in-process OCI registry, and N
// HelmCharts, each pulling the same chart from one HelmRepository of an
// in-process Helm repository (as in Flux's benchmark, where every
// HelmRelease has its own HelmChart of the same chart). For each kind and
// N it reports the time from creating the objects until all are Ready
// (artifact fetched, packed, stored and its status written) and the peak
// RSS of the source controllers' process: as in Flux, they run in a process
// of their own, examples/benchcmd/source-controller, which the command
// builds (with the build tags of -tags) and whose executable links the
// source controllers only. Each kind and N runs in a child process with
// its own control plane, so peaks do not carry over.
//
// The kubectl reference measured in the same run is `kubectl apply
// --server-side` of the same N source objects (suspended, in another
// namespace): a source has no kubectl equivalent for fetching and storing
// an artifact, so the comparable work is putting the N objects into the
// API server, which every tool has to do; the ratio says how much the
// fetch, the artifact and the status cost on top of that.
//
// The registry runs in a child process of its own (pushing a thousand
// artifacts into memory is the benchmark's work, not the controllers').
//
// Usage: go run ./examples/benchcmd/sourcescale [-kinds OCIRepository,HelmChart] [-n 100,500,1000] [-rows FILE] [-tags TAGS]
//
// -cpuprofile, -memprofile and -requests apply to the source-controller
// process of a child run (-child N -kind K -bin DIR).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/benchcmd/internal/benchproc"
	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

const (
	namespace    = "sourcescale"
	refNamespace = "kubectl-reference"
	ociKind      = "OCIRepository"
	chartKind    = "HelmChart"
)

// result is what a child reports.
type result struct {
	benchproc.Row
	Err string `json:"err,omitempty"`
}

func main() {
	kinds := flag.String("kinds", ociKind+","+chartKind, "comma-separated kinds to measure: OCIRepository, HelmChart")
	ns := flag.String("n", "100,500,1000", "comma-separated object counts")
	rows := flag.String("rows", "", "append the measured rows (JSON lines) to this file, for the table command")
	timeout := flag.Duration("timeout", 10*time.Minute, "how long one count may take to become Ready")
	concurrency := flag.Int("concurrency", 10, "parallel reconciles of the source controllers (Flux's benchmark: 10)")
	child := flag.Int("child", 0, "internal: run one measurement with this count")
	kind := flag.String("kind", "", "internal: the kind of a -child run")
	serveRegistry := flag.Int("serve-registry", 0, "internal: push this many artifacts to an in-process registry, print its apps URL and serve until stdin closes")
	tags := flag.String("tags", "kustomize_disable_go_plugin_support", "build tags of the controller command")
	binDir := flag.String("bin", "", "internal: directory of the built controller command")
	diagArgs := benchproc.DiagFlags(flag.CommandLine, "source-controller")
	flag.Parse()
	diag := diagArgs()
	if *serveRegistry > 0 {
		if err := serve(*serveRegistry); err != nil {
			fmt.Fprintln(os.Stderr, "sourcescale: registry:", err)
			os.Exit(1)
		}
		return
	}
	if *child > 0 {
		r := measure(*kind, *child, *concurrency, *timeout, *binDir, diag)
		_ = json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	if err := parent(*kinds, *ns, *rows, *tags, *concurrency, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "sourcescale:", err)
		os.Exit(1)
	}
}

func parent(kinds, list, rowsFile, tags string, concurrency int, timeout time.Duration) error {
	bin, err := benchproc.BuildCommands(tags, "source-controller")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)
	var rows []benchproc.Row
	for _, kind := range strings.Split(kinds, ",") {
		kind = strings.TrimSpace(kind)
		if kind != ociKind && kind != chartKind {
			return fmt.Errorf("unknown kind %q (want %s or %s)", kind, ociKind, chartKind)
		}
		for _, s := range strings.Split(list, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n <= 0 {
				return fmt.Errorf("bad count %q", s)
			}
			fmt.Fprintf(os.Stderr, ">> sourcescale: %d %s objects (controller concurrency %d)\n", n, kind, concurrency)
			var r result
			if err := benchproc.RunChild(&r, "-child", strconv.Itoa(n), "-kind", kind,
				"-concurrency", strconv.Itoa(concurrency), "-timeout", timeout.String(), "-bin", bin); err != nil {
				return fmt.Errorf("child for %d %s objects: %w", n, kind, err)
			}
			if r.Err != "" {
				return fmt.Errorf("child for %d %s objects: %s", n, kind, r.Err)
			}
			rows = append(rows, r.Row)
		}
	}
	if err := benchproc.AppendRows(rowsFile, rows...); err != nil {
		return err
	}
	fmt.Println()
	fmt.Printf("Source scale: N OCIRepositories (one artifact each, in-process registry) and N HelmCharts (one chart from one HelmRepository, in-process Helm repository); source controller concurrency %d\n", concurrency)
	fmt.Println()
	benchproc.PrintTable(os.Stdout, rows)
	return nil
}

// measure runs one child measurement; errors are reported in the result.
func measure(kind string, n, concurrency int, timeout time.Duration, bin string, diag []string) result {
	r, err := measureErr(kind, n, concurrency, timeout, bin, diag)
	res := result{Row: r}
	if err != nil {
		res.Err = err.Error()
	}
	return res
}

func measureErr(kind string, n, concurrency int, timeout time.Duration, bin string, diag []string) (benchproc.Row, error) {
	res := benchproc.Row{Kind: kind, N: n}
	if bin == "" {
		return res, fmt.Errorf("-bin is required with -child")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl, err := benchproc.StartCluster(ctx, "gitopskit-sourcescale-")
	if err != nil {
		return res, err
	}
	defer cl.Close()
	env, work := cl.Env, cl.Work
	c := env.Client
	for _, name := range []string{namespace, refNamespace} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			return res, err
		}
	}

	// The objects, built before the controllers start; what they point at
	// is served before they exist.
	var objs []client.Object
	switch kind {
	case ociKind:
		apps, stop, err := startRegistry(n)
		if err != nil {
			return res, err
		}
		defer stop()
		for i := range n {
			objs = append(objs, ociRepository(objName(i), namespace, apps+"/"+objName(i), false))
		}
	case chartKind:
		repo := helmtest.Start()
		defer repo.Close()
		if _, err := repo.AddChart(chart()); err != nil {
			return res, fmt.Errorf("packaging the chart: %w", err)
		}
		if err := c.Create(ctx, &sourcev1.HelmRepository{
			ObjectMeta: metav1.ObjectMeta{Name: "charts", Namespace: namespace},
			Spec:       sourcev1.HelmRepositorySpec{URL: repo.URL, Interval: metav1.Duration{Duration: time.Hour}},
		}); err != nil {
			return res, err
		}
		for i := range n {
			objs = append(objs, helmChart(objName(i), namespace, false))
		}
	default:
		return res, fmt.Errorf("unknown kind %q", kind)
	}

	store := filepath.Join(work, "store")
	if err := os.MkdirAll(store, 0o755); err != nil {
		return res, err
	}
	sources, err := benchproc.StartProcess(filepath.Join(bin, "source-controller"), append([]string{
		"-kubeconfig", env.KubeconfigPath, "-storage-path", store, "-concurrency", strconv.Itoa(concurrency)}, diag...)...)
	if err != nil {
		return res, err
	}
	defer sources.Stop()

	if kind == chartKind {
		// The one HelmRepository is ready before the clock starts, as the
		// fleet's shared repository would be.
		if err := benchproc.WaitFor(ctx, time.Minute, func() (bool, error) {
			var hr sourcev1.HelmRepository
			if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "charts"}, &hr); err != nil {
				return false, err
			}
			return hr.Status.Artifact != nil, nil
		}); err != nil {
			return res, fmt.Errorf("HelmRepository: %w", err)
		}
	}

	if m, err := sources.Memory(); err == nil {
		fmt.Fprintf(os.Stderr, "   before the %s objects: peak RSS %.1f MiB, anon %.1f MiB\n", kind, float64(m.Peak)/1024, float64(m.Anon)/1024)
	}
	start := time.Now()
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return res, err
		}
	}
	if err := benchproc.WaitAllReady(ctx, timeout, n, start, func() (int, error) {
		return countReady(ctx, c, kind)
	}); err != nil {
		return res, fmt.Errorf("waiting for Ready: %w", err)
	}
	res.Ready = time.Since(start)
	use, err := sources.Stop()
	if err != nil {
		return res, err
	}
	res.PeakRSSKiB, res.PeakAnonKiB = use.PeakRSSKiB, use.PeakAnonKiB

	// The reference: the same N objects, suspended, in another namespace.
	kubectl, err := testbin.Path("kubectl")
	if err != nil {
		return res, err
	}
	var b bytes.Buffer
	for i := range n {
		var o any
		switch kind {
		case ociKind:
			o = ociRepository(objName(i), refNamespace, "oci://registry.example.com/apps/"+objName(i), true)
		case chartKind:
			o = helmChart(objName(i), refNamespace, true)
		}
		doc, err := json.Marshal(o)
		if err != nil {
			return res, err
		}
		b.Write(doc)
		b.WriteString("\n---\n")
	}
	file := filepath.Join(work, "reference.yaml")
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		return res, err
	}
	if res.Kubectl, err = benchproc.KubectlApply(kubectl, env.KubeconfigPath, file); err != nil {
		return res, err
	}
	res.KubectlWhat = fmt.Sprintf("the same N %s objects themselves (suspended): the API work every tool must do; fetch and artifact have no kubectl equivalent", kind)
	return res, nil
}

// startRegistry runs the in-process registry with n pushed artifacts in a
// child process of its own, so that what the registry holds and what
// pushing allocated is not counted as the controllers' memory. It returns
// the URL of the registry's apps/ repositories and a function stopping
// the child.
func startRegistry(n int) (string, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(self, "-serve-registry", strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		stdin.Close()
		_ = cmd.Wait()
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("registry child: %w", err)
	}
	return strings.TrimSpace(line), stop, nil
}

// serve is the registry child: it pushes n artifacts, prints the URL of
// their repositories' parent and serves until stdin is closed.
func serve(n int) error {
	ctx := context.Background()
	reg := ocitest.Start()
	defer reg.Close()
	for i := range n {
		name := objName(i)
		if _, err := reg.PushFiles(ctx, "apps/"+name, "v1.0.0", map[string]string{"app.yaml": manifests(name)},
			oci.PushOptions{Source: "https://git.example.com/fleet", Revision: "main@sha1:" + strings.Repeat("0", 40)}); err != nil {
			return fmt.Errorf("pushing %s: %w", name, err)
		}
	}
	fmt.Println(reg.URL("apps"))
	_, err := io.Copy(io.Discard, os.Stdin)
	return err
}

func objName(i int) string { return fmt.Sprintf("app-%04d", i) }

// countReady counts the objects of kind in the benchmark's namespace that
// are Ready for their current generation.
func countReady(ctx context.Context, c client.Client, kind string) (int, error) {
	var conds [][]metav1.Condition
	var gens, observed []int64
	switch kind {
	case ociKind:
		var list sourcev1.OCIRepositoryList
		if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
			return 0, err
		}
		for _, o := range list.Items {
			conds, gens, observed = append(conds, o.Status.Conditions), append(gens, o.Generation), append(observed, o.Status.ObservedGeneration)
		}
	case chartKind:
		var list sourcev1.HelmChartList
		if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
			return 0, err
		}
		for _, o := range list.Items {
			conds, gens, observed = append(conds, o.Status.Conditions), append(gens, o.Generation), append(observed, o.Status.ObservedGeneration)
		}
	}
	ready := 0
	for i := range conds {
		if apimeta.IsStatusConditionTrue(conds[i], "Ready") && observed[i] == gens[i] {
			ready++
		}
	}
	return ready, nil
}

func ociRepository(name, ns, url string, suspend bool) *sourcev1.OCIRepository {
	return &sourcev1.OCIRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.OCIRepositoryKind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: sourcev1.OCIRepositorySpec{
			URL: url, Insecure: true, Suspend: suspend,
			Reference: &sourcev1.OCIRepositoryRef{Tag: "v1.0.0"},
			Interval:  metav1.Duration{Duration: time.Hour},
		},
	}
}

func helmChart(name, ns string, suspend bool) *sourcev1.HelmChart {
	return &sourcev1.HelmChart{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.HelmChartKind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: sourcev1.HelmChartSpec{
			Chart: "app", Version: "*", Suspend: suspend,
			Interval:  metav1.Duration{Duration: time.Hour},
			SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
		},
	}
}

// manifests is the content of one app's artifact: Flux's benchmark app (a
// ServiceAccount, a Service and a Deployment scaled to zero).
func manifests(name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata:
  name: %[1]s
---
apiVersion: v1
kind: Service
metadata:
  name: %[1]s
spec:
  selector:
    app: %[1]s
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: 0
  selector:
    matchLabels:
      app: %[1]s
  template:
    metadata:
      labels:
        app: %[1]s
    spec:
      serviceAccountName: %[1]s
      containers:
      - name: web
        image: nginx:1.27
`, name)
}

// chart returns the files of a small chart: a ServiceAccount, a Service
// and a Deployment scaled to zero.
func chart() map[string]string {
	return map[string]string{
		"Chart.yaml":  "apiVersion: v2\nname: app\nversion: 1.0.0\nappVersion: \"1.0.0\"\n",
		"values.yaml": "replicas: 0\nimage: nginx:1.27\n",
		"templates/app.yaml": `apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .Release.Name }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
spec:
  selector:
    app: {{ .Release.Name }}
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      app: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}
    spec:
      serviceAccountName: {{ .Release.Name }}
      containers:
      - name: web
        image: {{ .Values.image }}
`,
	}
}
