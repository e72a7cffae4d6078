package main

import (
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
	"syscall"
	"time"

	"filippo.io/age"
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
	"github.com/gitopskit/gitopskit/examples/notification"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/notify"
	"github.com/gitopskit/gitopskit/source/git/gittest"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
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
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "demo: interrupted; every process it started is stopped")
			os.Exit(130)
		}
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// demo holds what run sets up.
type demo struct {
	o     options
	start time.Time
	c     client.Client

	repo     *gittest.Worktree
	registry *ocitest.Registry
	// image is the edge-proxy image, "<registry host>/edge-proxy".
	image string
	// password is the database password encrypted in Git.
	password string
	// receiverURL is the Receiver's webhook server.
	receiverURL string
	// webhookSecret is the Receiver's HMAC secret, shared with the Git
	// host (generated at start).
	webhookSecret string
	sink          *sink

	// firstSeen records when each status row first was Ready for its
	// generation ("<kind>/<name>") and when apps was first applied.
	firstSeen map[string]time.Duration
	// orderViolated is set when apps was seen applied before the backend
	// HelmRelease was ever Ready.
	orderViolated bool
	// appsWaiting is the first message of apps waiting for the HelmRelease.
	appsWaiting string
}

func (d *demo) step(format string, args ...any) {
	fmt.Fprintf(d.o.out, "\n[%6.1fs] ==> %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

func (d *demo) info(format string, args ...any) {
	fmt.Fprintf(d.o.out, "           %s\n", fmt.Sprintf(format, args...))
}

func run(ctx context.Context, o options) (err error) {
	d := &demo{o: o, start: time.Now(), firstSeen: map[string]time.Duration{}}
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
	if _, err := exec.LookPath("git"); err != nil {
		return fmt.Errorf("the demo needs the git command on PATH: %w", err)
	}

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
		d.step("Starting a local control plane (etcd, kube-apiserver, kube-controller-manager, kwok nodes)")
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

	// The servers a fleet lives on.
	d.step("Starting in-process servers: Git, Helm chart repository, OCI registry, notification sink")
	gitRoot := filepath.Join(work, "git")
	if err := os.MkdirAll(gitRoot, 0o755); err != nil {
		return err
	}
	gitSrv, err := gittest.StartHTTPServer(gitRoot)
	if err != nil {
		return err
	}
	defer gitSrv.Close()
	charts := helmtest.Start()
	defer charts.Close()
	if _, err := charts.AddChart(backendChart()); err != nil {
		return err
	}
	d.info("Helm repository %s serves chart backend 1.0.0", charts.URL)
	d.registry = ocitest.Start()
	defer d.registry.Close()
	d.image = d.registry.Host + "/" + proxyImage
	if err := d.pushImage(ctx, "1.0.0"); err != nil {
		return err
	}
	apps, err := d.registry.PushFiles(ctx, appsArtifact, "latest", appsFiles(), oci.PushOptions{Source: "demo"})
	if err != nil {
		return fmt.Errorf("pushing the apps artifact: %w", err)
	}
	d.info("registry %s: image %s:1.0.0, artifact %s:latest (%s)", d.registry.Host, proxyImage, appsArtifact, shortRevision(apps.Revision))
	d.sink = startSink(d.start)
	defer d.sink.Close()
	d.info("notification sink %s", d.sink.srv.URL)

	// The fleet repository.
	if d.repo, err = gitSrv.InitWorktree("fleet"); err != nil {
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
	d.password = hex.EncodeToString(pw)
	if _, err := rand.Read(pw); err != nil {
		return err
	}
	d.webhookSecret = hex.EncodeToString(pw)
	enc, err := encryptYAML([]byte(backendValues(d.password)), id.Recipient().String())
	if err != nil {
		return err
	}
	files := fleetV1(d.image)
	files["infrastructure/backend-values.yaml"] = string(enc)
	head, err := d.repo.Commit("Add the infrastructure", files)
	if err != nil {
		return err
	}
	d.info("Git repository %s, commit %s", d.repo.URL, head[:8])
	d.info("infrastructure/backend-values.yaml is SOPS-encrypted for age recipient %s", id.Recipient())

	// The controllers.
	d.step("Starting the controllers: sources, Kustomization, HelmRelease, image automation, notification")
	storeDir := filepath.Join(work, "artifacts")
	if err := os.MkdirAll(storeDir, 0o755); err != nil {
		return err
	}
	if err := d.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: demoNamespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	nc, err := notification.Start(ctx, cfg, notification.Options{Logger: logger, SkipNameValidation: o.skipNameValidation,
		NoCrossNamespaceRefs: o.lockdown.NoCrossNamespaceRefs})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, nc.Stop()) }()
	d.receiverURL = nc.ReceiverURL
	// The controllers post their events to the notification controller's
	// event server, as Flux's controllers do.
	events, err := notify.NewHTTPRecorder(nc.EventURL, notify.WithBackoff(100*time.Millisecond, time.Second))
	if err != nil {
		return err
	}
	queue := notify.NewQueue(events, 1024, func(_ notify.Event, err error) { logger.Error(err, "posting an event") })
	qctx, qcancel := context.WithCancel(ctx)
	qdone := make(chan struct{})
	go func() { defer close(qdone); _ = queue.Run(qctx) }()
	defer func() { qcancel(); <-qdone }()
	running, err := controllers.Start(ctx, controllers.Config{
		REST: cfg, StoreDir: storeDir, Logger: logger,
		MetricsAddr: o.metrics, LeaderElection: o.leader, LeaderElectionNamespace: demoNamespace,
		SkipNameValidation:        o.skipNameValidation,
		Lockdown:                  o.lockdown,
		DependencyRequeueInterval: 2 * time.Second,
		HealthPollInterval:        time.Second,
		Notify:                    queue,
	})
	if err != nil {
		return err
	}
	defer func() {
		d.step("Stopping the controllers")
		err = errors.Join(err, running.Stop())
	}()
	d.info("artifacts served at %s, events at %s, webhooks at %s", running.StoreURL, nc.EventURL, nc.ReceiverURL)
	if o.metrics != "" {
		d.info("metrics at http://%s/metrics", o.metrics)
	}

	// The Flux objects.
	d.step("Creating the Flux objects in namespace %s", demoNamespace)
	if err := d.createObjects(ctx, id.String(), charts.URL); err != nil {
		return err
	}
	if o.kubeconfig != "" {
		defer func() { err = errors.Join(err, d.cleanup(context.WithoutCancel(ctx))) }()
	}
	if err := d.converge(ctx, "main@sha1:"+head, apps.Revision); err != nil {
		return err
	}
	if err := d.imageUpdate(ctx); err != nil {
		return err
	}
	if err := d.change(ctx); err != nil {
		return err
	}
	d.showSink(ctx)
	d.step("Done: every kind reconciled, the image update and the change applied within seconds of their webhooks")
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

// pushImage pushes tag of the edge-proxy image (a small artifact: the
// image automation only reads tags).
func (d *demo) pushImage(ctx context.Context, tag string) error {
	_, err := d.registry.PushFiles(ctx, proxyImage, tag, map[string]string{"version.txt": tag}, oci.PushOptions{Source: "demo"})
	if err != nil {
		return fmt.Errorf("pushing %s:%s: %w", proxyImage, tag, err)
	}
	return nil
}
