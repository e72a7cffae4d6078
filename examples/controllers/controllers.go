package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/bucket"
	"github.com/gitopskit/gitopskit/examples/fluxscheme"
	"github.com/gitopskit/gitopskit/examples/gitrepository"
	"github.com/gitopskit/gitopskit/examples/helmchart"
	"github.com/gitopskit/gitopskit/examples/helmrelease"
	"github.com/gitopskit/gitopskit/examples/helmrepository"
	"github.com/gitopskit/gitopskit/examples/image"
	"github.com/gitopskit/gitopskit/examples/kustomization"
	"github.com/gitopskit/gitopskit/examples/notification"
	"github.com/gitopskit/gitopskit/examples/ocirepository"
	"github.com/gitopskit/gitopskit/notify"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source/helm"
)

// Config describes the controllers to start. Zero values are documented per
// field.
type Config struct {
	// REST reaches the API server. Required.
	REST *rest.Config
	// StoreDir is the existing directory of the artifact store. Required.
	StoreDir string
	// StoreAddr is the listen address of the artifact server; "" means
	// 127.0.0.1 on a free port.
	StoreAddr string
	// MetricsAddr is the metrics listen address; "" disables metrics.
	MetricsAddr string
	// LeaderElection enables leader election in LeaderElectionNamespace.
	LeaderElection          bool
	LeaderElectionNamespace string
	// GitConcurrency and KustomizationConcurrency are the parallel
	// reconciles of each controller; 0 means 2 and 4. The HelmRelease
	// controller runs KustomizationConcurrency reconciles. The OCIRepository,
	// Bucket, HelmRepository, HelmChart and image controllers run
	// GitConcurrency reconciles too.
	GitConcurrency, KustomizationConcurrency int
	// ApplyConcurrency bounds one apply's parallel requests; 0 means
	// reconcile's default.
	ApplyConcurrency int
	// DependencyRequeueInterval is the wait for unready dependencies; 0
	// means the Kustomization controller's default.
	DependencyRequeueInterval time.Duration
	// HealthPollInterval is how often health checks poll; 0 means
	// reconcile's default.
	HealthPollInterval time.Duration
	// Lockdown restricts what a tenant's objects can make the controllers
	// do; the zero value is Flux's defaults, except that remote bases are
	// refused.
	Lockdown Lockdown
	// WatchLabelSelector restricts the controllers to the Flux objects whose
	// labels match it, in the syntax of Flux's --watch-label-selector flag:
	// "sharding.fluxcd.io/key=shard1" for a shard,
	// "!sharding.fluxcd.io/key" for the catch-all that reconciles every
	// object without a shard; "" (the zero value) reconciles everything.
	// Every kind of fluxscheme.ReconciledObjects is filtered in the
	// manager's cache, so this manager does not even see the other shards'
	// objects. Since the Kustomization, HelmRelease and image controllers
	// read sources and dependencies through that cache, an object's source,
	// its dependencies (spec.dependsOn and the gitopskit.io/depends-on
	// annotation), the HelmChart of a HelmRelease (through
	// spec.chart.metadata.labels), the ImageRepository of an ImagePolicy
	// and the GitRepository and ImagePolicies of an ImageUpdateAutomation
	// must carry the same shard label. One that does not is invisible to
	// the shard: a missing source or dependency is reported as not found,
	// an ImagePolicy of another shard is left out of an automation's
	// updates, and a HelmChart without the label is built by the shard its
	// labels select, usually the catch-all, which does not see a sharded
	// HelmRepository. Flux differs here: each of its controllers filters
	// only the kinds it reconciles and still sees every source, because
	// its shards are separate controller processes. An invalid selector makes
	// Start fail with an error quoting it.
	WatchLabelSelector string
	// SkipNameValidation allows several managers in one process (tests).
	SkipNameValidation bool
	// ExternalArtifact is Flux's ExternalArtifact feature gate: HelmReleases
	// may name an ExternalArtifact in spec.chartRef (its CRD must be
	// installed); false stalls them with AccessDenied, as in Flux.
	ExternalArtifact bool
	// Logger is the manager's logger; the zero Logger discards.
	Logger logr.Logger
	// Notify also receives every controller's Events, as notify.Events
	// (for example a notify.Queue in front of a notify.HTTPRecorder
	// posting to a notification controller's event server, which is what
	// Flux's controllers do); nil sends none.
	Notify notify.Recorder
}

// Lockdown holds the multi-tenancy settings of Flux's lockdown flags
// (--no-cross-namespace-refs, --default-service-account,
// --no-remote-bases).
type Lockdown struct {
	// NoCrossNamespaceRefs stalls, with reason AccessDenied, a
	// Kustomization whose sourceRef or dependsOn names another namespace,
	// and confines a Kustomization with a targetNamespace to that
	// namespace: its build and its apply refuse, before anything is
	// applied, objects in other namespaces and cluster-scoped objects. It
	// also confines GitRepository submodules to their parent's host, and
	// stalls a HelmRelease whose chart sourceRef, chartRef or dependsOn
	// names another namespace.
	NoCrossNamespaceRefs bool
	// DefaultServiceAccount is the service account, in the object's
	// namespace, that the controllers impersonate for an object that names
	// none (and reaches no remote cluster through a kubeconfig); "" means
	// such objects are applied with the controllers' own identity.
	DefaultServiceAccount string
	// AllowRemoteBases lets Kustomization builds fetch remote bases and
	// files over the network; false (the zero value) refuses them.
	AllowRemoteBases bool
}

// Running is a started manager.
type Running struct {
	// Store holds the artifacts.
	Store *artifact.Store
	// StoreURL is the base URL of the artifact server.
	StoreURL string

	cancel context.CancelFunc
	done   chan error
}

// Start starts the manager in the background until ctx ends or Stop is
// called. It returns once the caches have synced.
func Start(ctx context.Context, cfg Config) (*Running, error) {
	if cfg.REST == nil || cfg.StoreDir == "" {
		return nil, errors.New("controllers: REST and StoreDir are required")
	}
	byObject, err := fluxscheme.WatchByObject(cfg.WatchLabelSelector)
	if err != nil {
		return nil, fmt.Errorf("controllers: WatchLabelSelector: %w", err)
	}
	scheme, err := fluxscheme.New()
	if err != nil {
		return nil, err
	}
	addr := cfg.StoreAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("artifact server: %w", err)
	}
	base := "http://" + ln.Addr().String()
	store, err := artifact.NewStore(cfg.StoreDir, base)
	if err != nil {
		ln.Close()
		return nil, err
	}
	metrics := cfg.MetricsAddr
	if metrics == "" {
		metrics = "0"
	}
	// A zero Logger would make the manager fall back to controller-runtime's
	// global logger: discard, as Config documents.
	logger := cfg.Logger
	if logger.GetSink() == nil {
		logger = logr.Discard()
	}
	mgr, err := ctrl.NewManager(cfg.REST, ctrl.Options{
		Scheme:                  scheme,
		Cache:                   cache.Options{ByObject: byObject},
		Logger:                  logger,
		Metrics:                 metricsserver.Options{BindAddress: metrics},
		LeaderElection:          cfg.LeaderElection,
		LeaderElectionID:        "gitopskit-examples",
		LeaderElectionNamespace: cfg.LeaderElectionNamespace,
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	if err := mgr.Add(&gitrepository.StorageServer{Store: store, Listener: ln}); err != nil {
		ln.Close()
		return nil, err
	}
	gitN, kN := cfg.GitConcurrency, cfg.KustomizationConcurrency
	if gitN == 0 {
		gitN = 2
	}
	if kN == 0 {
		kN = 4
	}
	// The GitRepository side of the lockdown: submodules stay on their
	// parent repository's host.
	gr := &gitrepository.Reconciler{Store: store, SubmodulesSameHost: cfg.Lockdown.NoCrossNamespaceRefs,
		Recorder: notifying(mgr, cfg, gitrepository.ControllerName)}
	if err := gr.SetupWithManager(mgr, gitrepository.Options{MaxConcurrentReconciles: gitN, SkipNameValidation: cfg.SkipNameValidation}); err != nil {
		ln.Close()
		return nil, err
	}
	helmCache := helm.NewIndexCache(helm.CacheOptions{})
	for _, setup := range []func() error{
		func() error {
			return (&ocirepository.Reconciler{Store: store, Recorder: notifying(mgr, cfg, gitrepository.ControllerName)}).SetupWithManager(mgr, ocirepository.Options{MaxConcurrentReconciles: gitN, SkipNameValidation: cfg.SkipNameValidation})
		},
		func() error {
			return (&bucket.Reconciler{Store: store, Recorder: notifying(mgr, cfg, gitrepository.ControllerName)}).SetupWithManager(mgr, bucket.Options{MaxConcurrentReconciles: gitN, SkipNameValidation: cfg.SkipNameValidation})
		},
		func() error {
			return (&helmrepository.Reconciler{Store: store, Cache: helmCache, Recorder: notifying(mgr, cfg, gitrepository.ControllerName)}).SetupWithManager(mgr, helmrepository.Options{MaxConcurrentReconciles: gitN, SkipNameValidation: cfg.SkipNameValidation})
		},
		func() error {
			return (&helmchart.Reconciler{Store: store, Cache: helmCache, Recorder: notifying(mgr, cfg, gitrepository.ControllerName)}).SetupWithManager(ctx, mgr, helmchart.Options{MaxConcurrentReconciles: gitN, SkipNameValidation: cfg.SkipNameValidation})
		},
		func() error {
			return image.Setup(ctx, mgr, image.SetupOptions{
				Controller:           image.Options{MaxConcurrentReconciles: gitN, SkipNameValidation: cfg.SkipNameValidation},
				NoCrossNamespaceRefs: cfg.Lockdown.NoCrossNamespaceRefs,
				ReflectorRecorder:    notifying(mgr, cfg, image.ReflectorControllerName),
				AutomationRecorder:   notifying(mgr, cfg, image.AutomationControllerName),
			})
		},
	} {
		if err := setup(); err != nil {
			ln.Close()
			return nil, err
		}
	}
	kr := &kustomization.Reconciler{
		DependencyRequeueInterval: cfg.DependencyRequeueInterval,
		Concurrency:               cfg.ApplyConcurrency,
		PollInterval:              cfg.HealthPollInterval,
		NoCrossNamespaceRefs:      cfg.Lockdown.NoCrossNamespaceRefs,
		DefaultServiceAccount:     cfg.Lockdown.DefaultServiceAccount,
		AllowRemoteBases:          cfg.Lockdown.AllowRemoteBases,
		Recorder:                  notifying(mgr, cfg, kustomization.ControllerName, reconcile.ReconciliationSucceededReason),
	}
	if err := kr.SetupWithManager(ctx, mgr, kustomization.Options{MaxConcurrentReconciles: kN, SkipNameValidation: cfg.SkipNameValidation}); err != nil {
		ln.Close()
		return nil, err
	}
	hr := &helmrelease.Reconciler{
		DependencyRequeueInterval: cfg.DependencyRequeueInterval,
		DefaultServiceAccount:     cfg.Lockdown.DefaultServiceAccount,
		NoCrossNamespaceRefs:      cfg.Lockdown.NoCrossNamespaceRefs,
		AllowExternalArtifact:     cfg.ExternalArtifact,
		Recorder:                  notifying(mgr, cfg, helmrelease.ControllerName),
	}
	if err := hr.SetupWithManager(ctx, mgr, helmrelease.Options{MaxConcurrentReconciles: kN, SkipNameValidation: cfg.SkipNameValidation}); err != nil {
		ln.Close()
		return nil, err
	}
	mctx, cancel := context.WithCancel(ctx)
	r := &Running{Store: store, StoreURL: base, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- mgr.Start(mctx) }()
	sctx, scancel := context.WithTimeout(ctx, time.Minute)
	defer scancel()
	if !mgr.GetCache().WaitForCacheSync(sctx) {
		cancel()
		err := <-r.done
		return nil, errors.Join(errors.New("controllers: caches did not sync"), err)
	}
	return r, nil
}

// notifying returns the event recorder of one controller that also sends
// its Events to cfg.Notify, or nil (the controller's default) without one.
// commitStatus are the reasons of the Events ending a reconciliation.
func notifying(mgr ctrl.Manager, cfg Config, name string, commitStatus ...string) reconcile.EventRecorder {
	if cfg.Notify == nil {
		return nil
	}
	return &notification.EventRecorder{
		Kubernetes:          mgr.GetEventRecorder(name),
		Notify:              cfg.Notify,
		Scheme:              mgr.GetScheme(),
		Controller:          name,
		CommitStatusReasons: commitStatus,
	}
}

// Stop stops the manager and waits for it to finish.
func (r *Running) Stop() error {
	r.cancel()
	return <-r.done
}
