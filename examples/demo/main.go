package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"filippo.io/age"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gitopskit/gitopskit/examples/controllers"
	"github.com/gitopskit/gitopskit/examples/fluxscheme"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source/git/gittest"
)

// options are the demo's settings.
type options struct {
	kubeconfig string
	timeout    time.Duration
	verbose    bool
	metrics    string
	leader     bool
	// lockdown holds the multi-tenancy flags.
	lockdown controllers.Lockdown
	// skipNameValidation lets tests run the demo twice in one process.
	skipNameValidation bool
	out                io.Writer
}

func main() {
	o := options{out: os.Stdout}
	// A private flag set: controller-runtime registers its own global
	// --kubeconfig flag.
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "run against this cluster instead of starting a local control plane")
	fs.DurationVar(&o.timeout, "timeout", 3*time.Minute, "how long to wait for each convergence")
	fs.BoolVar(&o.verbose, "v", false, "print the controllers' logs to stderr")
	fs.StringVar(&o.metrics, "metrics-addr", "", "serve the controllers' Prometheus metrics on this address (for example :8080)")
	fs.BoolVar(&o.leader, "leader-elect", false, "run the controllers under leader election (Lease in namespace "+demoNamespace+")")
	fs.BoolVar(&o.lockdown.NoCrossNamespaceRefs, "no-cross-namespace-refs", false,
		"refuse sources and dependencies in other namespaces (reason AccessDenied) and confine Kustomizations with a targetNamespace to it")
	fs.StringVar(&o.lockdown.DefaultServiceAccount, "default-service-account", "",
		"impersonate this service account, in the object's namespace, for objects that name none")
	noRemoteBases := fs.Bool("no-remote-bases", true, "refuse remote bases and files in Kustomization builds (set to false to allow them)")
	_ = fs.Parse(os.Args[1:])
	o.lockdown.AllowRemoteBases = !*noRemoteBases
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// demo holds what run sets up.
type demo struct {
	o     options
	start time.Time
	c     client.Client
	repo  *gittest.Worktree
}

func (d *demo) step(format string, args ...any) {
	fmt.Fprintf(d.o.out, "\n[%6.1fs] ==> %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

func (d *demo) info(format string, args ...any) {
	fmt.Fprintf(d.o.out, "           %s\n", fmt.Sprintf(format, args...))
}

func run(ctx context.Context, o options) (err error) {
	d := &demo{o: o, start: time.Now()}
	logf.SetLogger(logr.Discard())
	logger := logr.Discard()
	if o.verbose {
		logger = funcr.New(func(prefix, args string) { fmt.Fprintln(os.Stderr, prefix, args) }, funcr.Options{})
	}
	scheme, err := fluxscheme.New()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "gitopskit-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	// The cluster.
	var cfg *rest.Config
	if o.kubeconfig != "" {
		d.step("Using the cluster of %s", o.kubeconfig)
		if cfg, err = clientcmd.BuildConfigFromFlags("", o.kubeconfig); err != nil {
			return fmt.Errorf("loading %s: %w", o.kubeconfig, err)
		}
		if err := installCRDs(cfg, scheme); err != nil {
			return err
		}
	} else {
		d.step("Starting a local control plane (etcd, kube-apiserver, kube-controller-manager)")
		env, err := testenv.Start(ctx, testenv.Options{FluxCRDs: true, Scheme: scheme})
		if err != nil {
			return fmt.Errorf("%w (run `make controlplane` or pass --kubeconfig)", err)
		}
		defer func() {
			d.step("Stopping the local control plane")
			err = errors.Join(err, env.Stop())
		}()
		cfg = env.Config
		d.info("kubeconfig: %s (valid while the demo runs)", env.KubeconfigPath)
	}
	if d.c, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return err
	}

	// The Git server and the fleet repository.
	d.step("Starting an in-process Git server with the sample fleet repository")
	gitRoot := filepath.Join(work, "git")
	if err := os.MkdirAll(gitRoot, 0o755); err != nil {
		return err
	}
	srv, err := gittest.StartHTTPServer(gitRoot)
	if err != nil {
		return err
	}
	defer srv.Close()
	if _, err := exec.LookPath("git"); err != nil {
		return fmt.Errorf("the demo needs the git command on PATH: %w", err)
	}
	if d.repo, err = srv.InitWorktree("fleet"); err != nil {
		return err
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	pw := make([]byte, 12)
	if _, err := rand.Read(pw); err != nil {
		return err
	}
	enc, err := encryptYAML([]byte(dbSecret(hex.EncodeToString(pw))), id.Recipient().String())
	if err != nil {
		return err
	}
	files := fleetV1()
	files["infrastructure/db-credentials.yaml"] = string(enc)
	head, err := d.repo.Commit("Add infrastructure and apps", files)
	if err != nil {
		return err
	}
	d.info("repository %s, commit %s", d.repo.URL, head[:8])
	d.info("infrastructure/db-credentials.yaml is SOPS-encrypted for age recipient %s", id.Recipient())

	// The controllers.
	d.step("Starting the GitRepository and Kustomization controllers (one manager)")
	storeDir := filepath.Join(work, "artifacts")
	if err := os.MkdirAll(storeDir, 0o755); err != nil {
		return err
	}
	if err := d.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: demoNamespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	running, err := controllers.Start(ctx, controllers.Config{
		REST: cfg, StoreDir: storeDir, Logger: logger,
		MetricsAddr: o.metrics, LeaderElection: o.leader, LeaderElectionNamespace: demoNamespace,
		SkipNameValidation:        o.skipNameValidation,
		Lockdown:                  o.lockdown,
		DependencyRequeueInterval: 2 * time.Second,
		HealthPollInterval:        time.Second,
	})
	if err != nil {
		return err
	}
	defer func() {
		d.step("Stopping the controllers")
		err = errors.Join(err, running.Stop())
	}()
	d.info("artifacts served at %s", running.StoreURL)
	if o.metrics != "" {
		d.info("metrics at http://%s/metrics", o.metrics)
	}

	// The Flux objects.
	d.step("Creating the Flux objects in namespace %s", demoNamespace)
	if err := d.createObjects(ctx, id.String()); err != nil {
		return err
	}
	if o.kubeconfig != "" {
		defer func() { err = errors.Join(err, d.cleanup(context.WithoutCancel(ctx))) }()
	}
	rev1 := "main@sha1:" + head
	d.step("Waiting for both Kustomizations to apply %s", shortRevision(rev1))
	if err := d.waitApplied(ctx, rev1); err != nil {
		return err
	}
	if err := d.showCluster(ctx); err != nil {
		return err
	}

	// A change.
	d.step("Committing a change: new greeting, nginx 1.28, legacy-banner.yaml removed")
	v2, removed := fleetV2()
	if err := d.repo.Remove(removed...); err != nil {
		return err
	}
	head2, err := d.repo.Commit("Update web, drop the legacy banner", v2)
	if err != nil {
		return err
	}
	d.info("commit %s; requesting a reconcile of the GitRepository (reconcile.fluxcd.io/requestedAt)", head2[:8])
	if err := d.requestReconcile(ctx); err != nil {
		return err
	}
	rev2 := "main@sha1:" + head2
	d.step("Waiting for both Kustomizations to apply %s", shortRevision(rev2))
	if err := d.waitApplied(ctx, rev2); err != nil {
		return err
	}
	if err := d.showCluster(ctx); err != nil {
		return err
	}
	d.step("Done: the new revision is applied and the removed object was pruned")
	return nil
}

func installCRDs(cfg *rest.Config, scheme *runtime.Scheme) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		crds := filepath.Join(dir, "examples", "config", "crd")
		if _, err := os.Stat(crds); err == nil {
			_, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: []string{crds}, Scheme: scheme})
			return err
		}
		if filepath.Dir(dir) == dir {
			return errors.New("cannot find examples/config/crd: run the demo from the repository")
		}
	}
}

func (d *demo) createObjects(ctx context.Context, ageKey string) error {
	objs := []client.Object{
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "sops-age", Namespace: demoNamespace},
			Data:       map[string][]byte{"identity.agekey": []byte(ageKey)},
		},
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "cluster-vars", Namespace: demoNamespace},
			Data:       map[string]string{"cluster_name": "demo-cluster"},
		},
		&sourcev1.GitRepository{
			ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: demoNamespace},
			Spec: sourcev1.GitRepositorySpec{
				URL:       d.repo.URL,
				Interval:  metav1.Duration{Duration: time.Minute},
				Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
			},
		},
		&kustomizev1.Kustomization{
			ObjectMeta: metav1.ObjectMeta{Name: "infrastructure", Namespace: demoNamespace},
			Spec: kustomizev1.KustomizationSpec{
				Interval:   metav1.Duration{Duration: 10 * time.Minute},
				Path:       "./infrastructure",
				Prune:      true,
				Wait:       true,
				SourceRef:  kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"},
				Decryption: &kustomizev1.Decryption{Provider: "sops", SecretRef: &meta.LocalObjectReference{Name: "sops-age"}},
			},
		},
		&kustomizev1.Kustomization{
			ObjectMeta: metav1.ObjectMeta{Name: "apps", Namespace: demoNamespace},
			Spec: kustomizev1.KustomizationSpec{
				Interval:  metav1.Duration{Duration: 10 * time.Minute},
				Path:      "./apps",
				Prune:     true,
				Wait:      true,
				DependsOn: []kustomizev1.DependencyReference{{Name: "infrastructure"}},
				SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"},
				PostBuild: &kustomizev1.PostBuild{
					Substitute:     map[string]string{"cluster_env": "staging"},
					SubstituteFrom: []kustomizev1.SubstituteReference{{Kind: "ConfigMap", Name: "cluster-vars"}},
				},
			},
		},
	}
	for _, o := range objs {
		if err := d.c.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
		d.info("created %s/%s", kindOf(o), o.GetName())
	}
	return nil
}

func kindOf(o client.Object) string {
	switch o.(type) {
	case *corev1.Secret:
		return "Secret"
	case *corev1.ConfigMap:
		return "ConfigMap"
	case *sourcev1.GitRepository:
		return "GitRepository"
	default:
		return "Kustomization"
	}
}

// tables renders the current source and Kustomization tables.
func (d *demo) tables(ctx context.Context) (string, []kustomizev1.Kustomization, error) {
	var repos sourcev1.GitRepositoryList
	if err := d.c.List(ctx, &repos, client.InNamespace(demoNamespace)); err != nil {
		return "", nil, err
	}
	var ks kustomizev1.KustomizationList
	if err := d.c.List(ctx, &ks, client.InNamespace(demoNamespace)); err != nil {
		return "", nil, err
	}
	var b bytes.Buffer
	b.WriteString("$ flux get sources git\n")
	writeSources(&b, repos.Items)
	b.WriteString("$ flux get kustomizations\n")
	writeKustomizations(&b, ks.Items)
	return b.String(), ks.Items, nil
}

// waitApplied prints the tables whenever they change until every
// Kustomization is Ready at rev.
func (d *demo) waitApplied(ctx context.Context, rev string) error {
	ctx, cancel := context.WithTimeout(ctx, d.o.timeout)
	defer cancel()
	last, lastPrint := "", time.Now()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		table, ks, err := d.tables(ctx)
		if err == nil {
			if table != last {
				fmt.Fprintf(d.o.out, "[%6.1fs]\n%s", time.Since(d.start).Seconds(), indent(table))
				last, lastPrint = table, time.Now()
			} else if time.Since(lastPrint) > 5*time.Second {
				fmt.Fprintf(d.o.out, "[%6.1fs] still waiting...\n", time.Since(d.start).Seconds())
				lastPrint = time.Now()
			}
			done := len(ks) > 0
			for _, k := range ks {
				done = done && k.Status.LastAppliedRevision == rev && reconcile.IsReady(k.Status.Conditions, k.Generation)
			}
			if done {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w\n%s", rev, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

// showCluster prints what the controllers applied.
func (d *demo) showCluster(ctx context.Context) error {
	var k kustomizev1.Kustomization
	for _, name := range []string{"infrastructure", "apps"} {
		if err := d.c.Get(ctx, client.ObjectKey{Namespace: demoNamespace, Name: name}, &k); err != nil {
			return err
		}
		var ids []string
		if k.Status.Inventory != nil {
			for _, e := range k.Status.Inventory.Entries {
				ids = append(ids, e.ID)
			}
		}
		d.info("%s inventory: %s", name, strings.Join(ids, ", "))
	}
	var s corev1.Secret
	if err := d.c.Get(ctx, client.ObjectKey{Namespace: appsNamespace, Name: "db-credentials"}, &s); err != nil {
		return err
	}
	d.info("Secret %s/db-credentials decrypted in-cluster: DB_USER=%s, DB_PASSWORD has %d characters",
		appsNamespace, s.Data["DB_USER"], len(s.Data["DB_PASSWORD"]))
	var cm corev1.ConfigMap
	if err := d.c.Get(ctx, client.ObjectKey{Namespace: appsNamespace, Name: "web-config"}, &cm); err != nil {
		return err
	}
	d.info("ConfigMap %s/web-config (post-build substitution): greeting=%q environment=%q", appsNamespace, cm.Data["greeting"], cm.Data["environment"])
	err := d.c.Get(ctx, client.ObjectKey{Namespace: appsNamespace, Name: "legacy-banner"}, &corev1.ConfigMap{})
	switch {
	case err == nil:
		d.info("ConfigMap %s/legacy-banner: present", appsNamespace)
	case apierrors.IsNotFound(err):
		d.info("ConfigMap %s/legacy-banner: pruned (removed from Git, deleted from the cluster)", appsNamespace)
	default:
		return err
	}
	return nil
}

func (d *demo) requestReconcile(ctx context.Context) error {
	var gr sourcev1.GitRepository
	if err := d.c.Get(ctx, client.ObjectKey{Namespace: demoNamespace, Name: "fleet"}, &gr); err != nil {
		return err
	}
	patch := client.MergeFrom(gr.DeepCopy())
	if gr.Annotations == nil {
		gr.Annotations = map[string]string{}
	}
	gr.Annotations[meta.ReconcileRequestAnnotation] = time.Now().Format(time.RFC3339Nano)
	return d.c.Patch(ctx, &gr, patch)
}

// cleanup deletes the demo's objects from an existing cluster, letting the
// controllers prune what they applied.
func (d *demo) cleanup(ctx context.Context) error {
	d.step("Cleaning up the demo objects (Kustomizations prune what they applied)")
	ctx, cancel := context.WithTimeout(ctx, d.o.timeout)
	defer cancel()
	for _, name := range []string{"apps", "infrastructure"} {
		k := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: demoNamespace}}
		if err := client.IgnoreNotFound(d.c.Delete(ctx, k)); err != nil {
			return err
		}
		for {
			err := d.c.Get(ctx, client.ObjectKeyFromObject(k), k)
			if apierrors.IsNotFound(err) {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return client.IgnoreNotFound(d.c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: demoNamespace}}))
}
