// Command apply compares reconcile.Manager with `kubectl apply
// --server-side` on the local control plane, in the same run: 1,000 objects
// (ConfigMaps, Services, Deployments with replicas 0) applied into an empty
// namespace, the unchanged set applied again (our write requests counted
// with a counting http.RoundTripper; once by the Manager that applied them,
// once by a fresh Manager that dry-runs every object), and 500 of them pruned (against
// `kubectl delete` of the same 500 files for reference). kubectl goes first
// on each step so kube-controller-manager's work on our Deployments never
// slows it down.
//
// Usage (from the repository root, after `make controlplane bin/kubectl`):
//
//	go run ./internal/benchcmd/apply
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/reconcile"
)

type writeCounter struct {
	rt             http.RoundTripper
	writes, allReq atomic.Int64
}

func (w *writeCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	w.allReq.Add(1)
	if r.Method != http.MethodGet && !strings.Contains(r.URL.RawQuery, "dryRun") {
		w.writes.Add(1)
	}
	return w.rt.RoundTrip(r)
}

func manifest(i int, ns string) string {
	name := fmt.Sprintf("obj-%04d", i)
	switch i % 3 {
	case 0:
		return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: %s, namespace: %s, labels: {app: bench}}
data: {index: "%d", payload: "some configuration value for %s"}
`, name, ns, i, name)
	case 1:
		return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %s, namespace: %s, labels: {app: bench}}
spec:
  selector: {app: %s}
  ports: [{name: http, port: 80, targetPort: 8080}]
`, name, ns, name)
	default:
		return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %s, namespace: %s, labels: {app: bench}}
spec:
  replicas: 0
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        ports: [{containerPort: 8080}]
        resources: {requests: {cpu: 10m, memory: 16Mi}}
`, name, ns, name, name)
	}
}

// writeSet writes one file per object under dir and returns the parsed objects.
func writeSet(dir, ns string, n int) ([]*unstructured.Unstructured, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	objs := make([]*unstructured.Unstructured, 0, n)
	for i := range n {
		m := manifest(i, ns)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("obj-%04d.yaml", i)), []byte(m), 0o644); err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(m), &u.Object); err != nil {
			return nil, err
		}
		objs = append(objs, u)
	}
	return objs, nil
}

func timed(f func() error) (time.Duration, error) {
	start := time.Now()
	err := f()
	return time.Since(start), err
}

func main() {
	n := flag.Int("n", 1000, "objects to apply")
	conc := flag.Int("concurrency", 0, "reconcile.Options.Concurrency (0: the default)")
	flag.Parse()
	if err := run(*n, *conc); err != nil {
		fmt.Fprintln(os.Stderr, "apply bench:", err)
		os.Exit(1)
	}
}

func run(n, concurrency int) error {
	kubectl, err := testbin.Path("kubectl")
	if err != nil {
		return fmt.Errorf("kubectl: %w (run `make bin/kubectl`)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	fmt.Println(">> starting the local control plane")
	env, err := testenv.Start(ctx, testenv.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()

	work, err := os.MkdirTemp("", "apply-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	kDir, oDir := filepath.Join(work, "kubectl"), filepath.Join(work, "ours")
	if _, err := writeSet(kDir, "bench-kubectl", n); err != nil {
		return err
	}
	objs, err := writeSet(oDir, "bench-ours", n)
	if err != nil {
		return err
	}

	cfg := rest.CopyConfig(env.Config)
	wc := &writeCounter{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { wc.rt = rt; return wc })
	c, err := reconcile.NewClient(cfg, client.Options{})
	if err != nil {
		return err
	}
	m, err := reconcile.NewManager(c, reconcile.Options{Owner: reconcile.Owner{Name: "bench", Namespace: "flux-system"}, Concurrency: concurrency})
	if err != nil {
		return err
	}
	nsObjs := func(names ...string) []*unstructured.Unstructured {
		var out []*unstructured.Unstructured
		for _, name := range names {
			u := &unstructured.Unstructured{}
			u.SetAPIVersion("v1")
			u.SetKind("Namespace")
			u.SetName(name)
			out = append(out, u)
		}
		return out
	}
	if _, err := m.Apply(ctx, nsObjs("bench-kubectl", "bench-ours")); err != nil {
		return err
	}
	kc := func(args ...string) func() error {
		return func() error {
			cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", env.KubeconfigPath}, args...)...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, tail(out))
			}
			return nil
		}
	}
	settle := func() { time.Sleep(3 * time.Second) }

	type row struct {
		step, target string
		ours, ref    time.Duration
		note         string
	}
	var rows []row

	// 1. Apply into an empty namespace.
	fmt.Printf(">> apply %d objects: kubectl\n", n)
	kApply, err := timed(kc("apply", "--server-side", "--field-manager=bench", "-f", kDir))
	if err != nil {
		return err
	}
	settle()
	fmt.Printf(">> apply %d objects: reconcile.Manager\n", n)
	var cs reconcile.ChangeSet
	oApply, err := timed(func() error { var err error; cs, err = m.Apply(ctx, objs); return err })
	if err != nil {
		return err
	}
	if got := len(cs.Filter(reconcile.Created)); got != n {
		return fmt.Errorf("first apply created %d objects, want %d", got, n)
	}
	rows = append(rows, row{step: fmt.Sprintf("apply %d objects", n), target: "<= 0.50x", ours: oApply, ref: kApply})

	// 2. Re-apply the unchanged set.
	settle()
	fmt.Println(">> re-apply unchanged: kubectl")
	kRe, err := timed(kc("apply", "--server-side", "--field-manager=bench", "-f", kDir))
	if err != nil {
		return err
	}
	settle()
	fmt.Println(">> re-apply unchanged: reconcile.Manager")
	w0, r0 := wc.writes.Load(), wc.allReq.Load()
	oRe, err := timed(func() error { var err error; cs, err = m.Apply(ctx, objs); return err })
	if err != nil {
		return err
	}
	writes, reqs := wc.writes.Load()-w0, wc.allReq.Load()-r0
	if got := len(cs.Filter(reconcile.Unchanged)); got != n {
		return fmt.Errorf("re-apply left %d of %d objects unchanged: %v", got, n, cs.Count())
	}
	rows = append(rows, row{step: "re-apply unchanged", target: "<= 0.20x, 0 writes", ours: oRe, ref: kRe,
		note: fmt.Sprintf("our writes: %d, our requests: %d", writes, reqs)})

	// 2b. The same re-apply from a fresh Manager, which has applied
	// nothing yet and so dry-runs every object.
	fresh, err := reconcile.NewManager(c, reconcile.Options{Owner: reconcile.Owner{Name: "bench", Namespace: "flux-system"}, Concurrency: concurrency})
	if err != nil {
		return err
	}
	w0, r0 = wc.writes.Load(), wc.allReq.Load()
	oCold, err := timed(func() error { var err error; cs, err = fresh.Apply(ctx, objs); return err })
	if err != nil {
		return err
	}
	if got := len(cs.Filter(reconcile.Unchanged)); got != n {
		return fmt.Errorf("fresh re-apply left %d of %d objects unchanged: %v", got, n, cs.Count())
	}
	rows = append(rows, row{step: "re-apply, new Manager", target: "report", ours: oCold, ref: kRe,
		note: fmt.Sprintf("dry-run per object; writes: %d, requests: %d", wc.writes.Load()-w0, wc.allReq.Load()-r0)})

	// 3. Prune 500 removed objects.
	half := n / 2
	var kFiles []string
	for i := half; i < n; i++ {
		kFiles = append(kFiles, "-f", filepath.Join(kDir, fmt.Sprintf("obj-%04d.yaml", i)))
	}
	fmt.Printf(">> prune %d objects: kubectl delete\n", n-half)
	kDel, err := timed(kc(append([]string{"delete", "--wait=false"}, kFiles...)...))
	if err != nil {
		return err
	}
	settle()
	fmt.Printf(">> prune %d objects: reconcile.Manager\n", n-half)
	full := cs.Inventory()
	var pcs reconcile.ChangeSet
	oPrune, err := timed(func() error {
		var err error
		pcs, err = m.Prune(ctx, full, reconcile.InventoryOf(objs[:half]))
		return err
	})
	if err != nil {
		return err
	}
	if got := len(pcs.Filter(reconcile.Deleted)); got != n-half {
		return fmt.Errorf("prune deleted %d objects, want %d", got, n-half)
	}
	rows = append(rows, row{step: fmt.Sprintf("prune %d objects", n-half), target: "report", ours: oPrune, ref: kDel, note: "reference: kubectl delete --wait=false of the same files"})

	kv, _ := exec.Command(kubectl, "version", "--client", "-o", "yaml").Output()
	fmt.Println()
	if concurrency == 0 {
		concurrency = 64
	}
	fmt.Printf("reconcile.Manager (concurrency %d, client QPS %.0f) vs kubectl %s (server-side apply, one object at a time)\n",
		concurrency, cfg.QPS, strings.TrimSpace(firstMatch(string(kv), "gitVersion:")))
	fmt.Printf("%-22s %10s %10s %7s  %-20s %s\n", "step", "ours", "kubectl", "ratio", "target", "note")
	for _, r := range rows {
		fmt.Printf("%-22s %9.2fs %9.2fs %6.3fx  %-20s %s\n", r.step, r.ours.Seconds(), r.ref.Seconds(), r.ours.Seconds()/r.ref.Seconds(), r.target, r.note)
	}
	return nil
}

func firstMatch(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, prefix) {
			return strings.TrimSpace(strings.TrimPrefix(t, prefix))
		}
	}
	return "(unknown version)"
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 400 {
		s = "..." + s[len(s)-400:]
	}
	return s
}
