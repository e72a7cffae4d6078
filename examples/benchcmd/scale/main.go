// Command scale measures the example controllers at Flux's benchmark shape:
// N Kustomizations (N = 100, 500, 1000) from one GitRepository, each
// applying a ServiceAccount, a Service, a ConfigMap and a Deployment with
// replicas 0 (wait: true, so health is part of Ready), on the local control
// plane. For each N it reports the time from creating the Kustomizations
// until all are Ready and the peak RSS of the Kustomization controller's
// process. As in Flux, the controllers run as processes of their own: the
// command builds examples/benchcmd/kustomize-controller and
// source-controller (with the build tags of -tags) and measures
// kustomize-controller, whose executable links the Kustomization
// controller only. Each N runs in a child process with its own control
// plane, so peaks do not carry over.
//
// The reference measured in the same run, for every N, is `kubectl apply
// --server-side` of the same 4N objects (under other names, in one file),
// and Flux v2.9's published row is printed next to ours.
//
// Every Kustomization reads the same template directory of the repository
// with its own namePrefix and a post-build variable, the common layout of
// a fleet of tenants.
//
// Usage: go run ./examples/benchcmd/scale [-n 100,500,1000] [-rows FILE]
// [-tags TAGS]
//
// -rows appends the measured rows for the table command; -cpuprofile,
// -memprofile and -requests apply to the kustomize-controller process of a
// child run (-child N -bin DIR).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/benchcmd/internal/benchproc"
	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/source/git/gittest"
)

// result is what a child reports.
type result struct {
	N          int           `json:"n"`
	Ready      time.Duration `json:"ready"`
	PeakRSSKiB int64         `json:"peakRSSKiB"`
	// PeakAnonKiB is the sampled peak of anonymous memory.
	PeakAnonKiB int64         `json:"peakAnonKiB"`
	Kubectl     time.Duration `json:"kubectl,omitempty"`
	// APIOurs and APIKubectl are the requests the API server served while
	// the Kustomizations converged and while kubectl applied, from every
	// client (kube-controller-manager's included).
	APIOurs    benchproc.APIRequests `json:"apiOurs,omitempty"`
	APIKubectl benchproc.APIRequests `json:"apiKubectl,omitempty"`
	Err        string                `json:"err,omitempty"`
}

const namespace = "scale"

func main() {
	ns := flag.String("n", "100,500,1000", "comma-separated Kustomization counts")
	child := flag.Int("child", 0, "internal: run one measurement with this count")
	kubectlRef := flag.Bool("kubectl", false, "internal: also time kubectl apply in the child")
	rows := flag.String("rows", "", "append the measured rows (JSON lines) to this file, for the table command")
	concurrency := flag.Int("concurrency", 20, "parallel Kustomization reconciles")
	tags := flag.String("tags", "kustomize_disable_go_plugin_support", "build tags of the controller commands")
	binDir := flag.String("bin", "", "internal: directory of the built controller commands")
	shared := flag.Bool("shared-namespace", false, "put every app in one namespace instead of one namespace per app")
	diagArgs := benchproc.DiagFlags(flag.CommandLine, "kustomize-controller")
	flag.Parse()
	diag := diagArgs()
	if *child > 0 {
		r := measure(*child, *concurrency, *binDir, *kubectlRef, *shared, diag)
		_ = json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	if err := parent(*ns, *rows, *tags, *concurrency, *shared); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func parent(list, rowsFile, tags string, concurrency int, shared bool) error {
	bin, err := benchproc.BuildCommands(tags, "kustomize-controller", "source-controller")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)
	var results []result
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("bad count %q", s)
		}
		fmt.Fprintf(os.Stderr, ">> scale: %d Kustomizations (controller concurrency %d)\n", n, concurrency)
		args := []string{"-child", strconv.Itoa(n), "-concurrency", strconv.Itoa(concurrency), "-bin", bin, "-kubectl"}
		if shared {
			args = append(args, "-shared-namespace")
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
	fmt.Println("Scale: N Kustomizations from one GitRepository, 4 objects each (SA, Service, ConfigMap, Deployment replicas 0), wait: true")
	layout := "one namespace per app (namespaces created beforehand, not timed)"
	if shared {
		layout = "every app in one namespace"
	}
	fmt.Println("layout:", layout)
	fmt.Println("local control plane on this machine (2 cores shared with etcd, kube-apiserver, kube-controller-manager)")
	fmt.Println()
	fmt.Println("peak RSS: the kustomize-controller process (source-controller runs in another, as in Flux)")
	fmt.Printf("%-6s %-8s %16s %14s %18s\n", "N", "objects", "all Ready (ours)", "peak RSS", "Ready/object")
	for _, r := range results {
		fmt.Printf("%-6d %-8d %16s %10.1f MiB %15.1f ms\n", r.N, 4*r.N, r.Ready.Round(100*time.Millisecond),
			float64(r.PeakRSSKiB)/1024, float64(r.Ready.Milliseconds())/float64(4*r.N))
	}
	fmt.Println()
	for _, r := range results {
		if r.Kubectl > 0 {
			fmt.Printf("reference, same run: kubectl apply --server-side of the same %d objects: %s (ours, incl. Git fetch, build, apply and health: %s; ratio ours/kubectl %.2f)\n",
				4*r.N, r.Kubectl.Round(100*time.Millisecond), r.Ready.Round(100*time.Millisecond), r.Ready.Seconds()/r.Kubectl.Seconds())
			fmt.Printf("  API server, every client (kube-controller-manager included), N=%d: while ours converged %s, writes %d;\n  while kubectl applied %s, writes %d\n",
				r.N, r.APIOurs, r.APIOurs.Writes(), r.APIKubectl, r.APIKubectl.Writes())
		}
	}
	rows := make([]benchproc.Row, 0, len(results))
	for _, r := range results {
		rows = append(rows, benchproc.Row{Kind: "Kustomization", N: r.N, Ready: r.Ready, PeakRSSKiB: r.PeakRSSKiB, PeakAnonKiB: r.PeakAnonKiB, Kubectl: r.Kubectl,
			KubectlWhat: "the same 4N objects the Kustomizations apply (other names, one file)"})
	}
	fmt.Println()
	benchproc.PrintTable(os.Stdout, rows)
	return benchproc.AppendRows(rowsFile, rows...)
}

// measure runs one child measurement; errors are reported in the result.
func measure(n, concurrency int, bin string, withKubectl, shared bool, diag []string) result {
	r, err := measureErr(n, concurrency, bin, withKubectl, shared, diag)
	if err != nil {
		r.Err = err.Error()
	}
	return r
}

func measureErr(n, concurrency int, bin string, withKubectl, shared bool, diag []string) (result, error) {
	res := result{N: n}
	if bin == "" {
		return res, errors.New("-bin is required with -child")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl, err := benchproc.StartCluster(ctx, "gitopskit-scale-")
	if err != nil {
		return res, err
	}
	defer cl.Close()
	env, work := cl.Env, cl.Work

	// The repository: one template directory.
	gitRoot := filepath.Join(work, "git")
	repoDir := filepath.Join(gitRoot, "fleet")
	if err := writeRepo(repoDir); err != nil {
		return res, err
	}
	srv, err := gittest.StartHTTPServer(gitRoot)
	if err != nil {
		return res, err
	}
	defer srv.Close()

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
	ks, err := benchproc.StartProcess(filepath.Join(bin, "kustomize-controller"), append([]string{
		"-kubeconfig", env.KubeconfigPath, "-concurrency", strconv.Itoa(concurrency), "-health-poll", "1s"}, diag...)...)
	if err != nil {
		return res, err
	}
	defer ks.Stop()

	c := env.Client
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return res, err
	}
	gr := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: namespace},
		Spec: sourcev1.GitRepositorySpec{
			URL: srv.URL + "/fleet", Interval: metav1.Duration{Duration: time.Hour},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
		},
	}
	if err := c.Create(ctx, gr); err != nil {
		return res, err
	}
	if err := benchproc.WaitFor(ctx, time.Minute, func() (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(gr), gr); err != nil {
			return false, err
		}
		return gr.Status.Artifact != nil, nil
	}); err != nil {
		return res, fmt.Errorf("GitRepository: %w", err)
	}

	target := func(i int) string {
		if shared {
			return namespace
		}
		return fmt.Sprintf("app-%04d", i)
	}
	if !shared {
		for i := range n {
			if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: target(i)}}); err != nil {
				return res, err
			}
		}
	}
	api0, err := benchproc.ReadAPIRequests(ctx, env.Config)
	if err != nil {
		return res, err
	}
	start := time.Now()
	for i := range n {
		name := fmt.Sprintf("app-%04d", i)
		k := &kustomizev1.Kustomization{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
			Spec: kustomizev1.KustomizationSpec{
				Interval:        metav1.Duration{Duration: time.Hour},
				Path:            "./template",
				Prune:           true,
				Wait:            true,
				NamePrefix:      name + "-",
				TargetNamespace: target(i),
				SourceRef:       kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"},
				PostBuild:       &kustomizev1.PostBuild{Substitute: map[string]string{"app": name}},
			},
		}
		if err := c.Create(ctx, k); err != nil {
			return res, err
		}
	}
	if err := benchproc.WaitAllReady(ctx, 10*time.Minute, n, start, func() (int, error) {
		var list kustomizev1.KustomizationList
		if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
			return 0, err
		}
		ready := 0
		for _, k := range list.Items {
			if apimeta.IsStatusConditionTrue(k.Status.Conditions, "Ready") && k.Status.ObservedGeneration == k.Generation {
				ready++
			}
		}
		return ready, nil
	}); err != nil {
		return res, fmt.Errorf("waiting for Ready: %w", err)
	}
	res.Ready = time.Since(start)
	api1, err := benchproc.ReadAPIRequests(ctx, env.Config)
	if err != nil {
		return res, err
	}
	res.APIOurs = api1.Sub(api0)
	use, err := ks.Stop()
	if err != nil {
		return res, err
	}
	res.PeakRSSKiB, res.PeakAnonKiB = use.PeakRSSKiB, use.PeakAnonKiB
	if use, err := sources.Stop(); err == nil {
		fmt.Fprintf(os.Stderr, "   source-controller peak RSS %.1f MiB (anon %.1f)\n", float64(use.PeakRSSKiB)/1024, float64(use.PeakAnonKiB)/1024)
	}
	if withKubectl {
		api2, err := benchproc.ReadAPIRequests(ctx, env.Config)
		if err != nil {
			return res, err
		}
		if res.Kubectl, err = kubectlApply(env.KubeconfigPath, work, n); err != nil {
			return res, err
		}
		api3, err := benchproc.ReadAPIRequests(ctx, env.Config)
		if err != nil {
			return res, err
		}
		res.APIKubectl = api3.Sub(api2)
	}
	return res, nil
}

func template(prefix, app string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata:
  name: %[1]sapp
  namespace: %[3]s
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: %[1]sconfig
  namespace: %[3]s
data:
  app: %[2]s
---
apiVersion: v1
kind: Service
metadata:
  name: %[1]sweb
  namespace: %[3]s
spec:
  selector:
    app: %[2]s
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]sweb
  namespace: %[3]s
spec:
  replicas: 0
  selector:
    matchLabels:
      app: %[2]s
  template:
    metadata:
      labels:
        app: %[2]s
    spec:
      serviceAccountName: %[1]sapp
      containers:
      - name: web
        image: nginx:1.27
`, prefix, app, namespace)
}

// writeRepo commits the template directory to a new repository in dir.
func writeRepo(dir string) error {
	w, err := gittest.InitWorktree(dir)
	if err != nil {
		return err
	}
	_, err = w.Commit("template", map[string]string{"template/app.yaml": template("", "${app}")})
	return err
}

// kubectlApply times `kubectl apply --server-side` of the same objects
// under other names, in a fresh namespace.
func kubectlApply(kubeconfig, work string, n int) (time.Duration, error) {
	kubectl, err := testbin.Path("kubectl")
	if err != nil {
		return 0, err
	}
	var b bytes.Buffer
	for i := range n {
		name := fmt.Sprintf("ref-%04d", i)
		b.WriteString(template(name+"-", name))
		b.WriteString("---\n")
	}
	file := filepath.Join(work, "reference.yaml")
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		return 0, err
	}
	return benchproc.KubectlApply(kubectl, kubeconfig, file)
}
