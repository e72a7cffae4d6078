package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage"
	"helm.sh/helm/v4/pkg/storage/driver"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/reconcile"
)

// DefaultTimeout is the timeout of an action whose options leave it zero
// (Flux's default spec.timeout).
const DefaultTimeout = 5 * time.Minute

// DefaultMaxHistory is the number of revisions kept when
// Options.MaxHistory is 0 (Flux's default spec.maxHistory).
const DefaultMaxHistory = 5

// ErrReleaseNotFound reports a release absent from storage.
var ErrReleaseNotFound = errors.New("release not found")

// Options configure a Client.
type Options struct {
	// Config reaches the cluster, already impersonating the HelmRelease's
	// service account or built from its kubeConfig (see reconcile's
	// ImpersonateFor and RESTConfigFromKubeConfig).
	Config *rest.Config
	// Namespace is the release namespace (spec.targetNamespace, else the
	// HelmRelease's namespace): objects without one land there.
	Namespace string
	// StorageNamespace holds the release Secrets (spec.storageNamespace);
	// empty means Namespace.
	StorageNamespace string
	// MaxHistory is the number of revisions kept (spec.maxHistory); 0 means
	// DefaultMaxHistory, negative means unlimited.
	MaxHistory int
	// FieldValidation, when set, is shared by the Clients of a controller
	// so that a kind's server-side field validation support is looked up
	// in the server's OpenAPI documents once, not on every action; nil
	// looks it up on every action, as Helm does.
	FieldValidation *FieldValidation
	// FreshClients gives Helm a new discovery client and REST mapper each
	// time it asks for one, instead of one for the Client's lifetime: Flux's
	// spec.persistentClient false. It is slower, but objects of a kind
	// whose CRD an action created outside the chart's crds directory (a
	// CRD in templates, say, used by a post-install hook) are found.
	FreshClients bool
	// StorageBuffers, when set, is shared by the Clients of a controller
	// so that the release storage reuses its compression state and
	// buffers across Clients; nil reuses nothing, as Helm's own driver.
	// Releases are stored in Helm's Secret format either way.
	StorageBuffers *StorageBuffers
	// Discovery, when set, is shared by the Clients of a controller so
	// that they download the servers' discovery documents and build REST
	// mappings together instead of one set per Client; the data a Client
	// sees is as recent as without sharing. Ignored with FreshClients.
	Discovery *Discovery
}

// Client runs Helm actions on one release namespace and storage
// namespace. Helm's log records go to the logr.Logger of the context the
// Client was created with.
type Client struct {
	cfg        *action.Configuration
	getter     *restGetter
	namespace  string
	maxHistory int
}

// New returns a Client for opts.
func New(ctx context.Context, opts Options) (*Client, error) {
	if opts.Config == nil {
		return nil, errors.New("cluster: no rest.Config")
	}
	if opts.Namespace == "" {
		return nil, errors.New("cluster: no release namespace")
	}
	storageNS := opts.StorageNamespace
	if storageNS == "" {
		storageNS = opts.Namespace
	}
	getter, err := newRESTGetter(opts.Config, opts.Namespace, opts.FreshClients, opts.Discovery)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	cs, err := kubernetes.NewForConfig(opts.Config)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	handler := logr.ToSlogHandler(logr.FromContextOrDiscard(ctx))
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(handler))
	kc := kube.New(getter)
	if opts.FieldValidation != nil {
		if f, ok := kc.Factory.(cmdutil.Factory); ok {
			kc.Factory = &validatingFactory{Factory: f, v: opts.FieldValidation, server: opts.Config.Host + opts.Config.APIPath}
		}
	}
	kc.Namespace = opts.Namespace
	kc.SetLogger(handler)
	d := newSecrets(cs.CoreV1().Secrets(storageNS), opts.StorageBuffers, handler)
	cfg.RESTClientGetter = getter
	cfg.KubeClient = kc
	cfg.Releases = storage.Init(d)
	max := opts.MaxHistory
	if max == 0 {
		max = DefaultMaxHistory
	}
	if max < 0 {
		max = 0
	}
	cfg.Releases.MaxHistory = max
	return &Client{cfg: cfg, getter: getter, namespace: opts.Namespace, maxHistory: max}, nil
}

// CRDPolicy is Flux's spec.install.crds / spec.upgrade.crds.
type CRDPolicy string

// CRD policies.
const (
	// CRDsSkip leaves the chart's crds/ directory alone.
	CRDsSkip CRDPolicy = "Skip"
	// CRDsCreate creates the CRDs that do not exist (the install default;
	// on upgrade, where it must be asked for, Flux's Create).
	CRDsCreate CRDPolicy = "Create"
)

// Wait says what an action waits for.
type Wait struct {
	// Disable waits for hooks only (spec.*.disableWait).
	Disable bool
	// DisableForJobs does not wait for Jobs to complete
	// (spec.*.disableWaitForJobs).
	DisableForJobs bool
	// Legacy waits with Helm 3's logic instead of the kstatus watcher
	// (spec.waitStrategy.name legacy).
	Legacy bool
	// HealthChecks are CEL health expressions (spec.healthCheckExprs) the
	// kstatus watcher uses for their kinds; ignored when Disable or Legacy
	// is set, as in Flux.
	HealthChecks []reconcile.HealthCheckExpr
}

func (w Wait) strategy() kube.WaitStrategy {
	switch {
	case w.Disable:
		return kube.HookOnlyStrategy
	case w.Legacy:
		return kube.LegacyStrategy
	}
	return kube.StatusWatcherStrategy
}

func timeoutOr(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultTimeout
	}
	return d
}

// InstallOptions are Flux's spec.install options.
type InstallOptions struct {
	Timeout         time.Duration
	CRDs            CRDPolicy
	CreateNamespace bool
	DisableHooks    bool
	Wait            Wait
	// Replace re-uses the name of a release that was uninstalled with
	// history kept (spec.install.replace).
	Replace bool
	// ClientSideApply applies with client-side apply instead of Helm 4's
	// default server-side apply.
	ClientSideApply bool
	// PostRenderers run over manifests and hooks (helmrelease.FluxPostRenderers).
	PostRenderers []helmrelease.PostRenderer
	// PostRenderStrategy is Helm's (spec.postRenderStrategy): "combined"
	// or "" (manifests and hooks post-rendered together), "separate" or
	// "nohooks" (hooks left as rendered).
	PostRenderStrategy string
	// Description is stored in the release.
	Description string
}

// Install installs a release of ch with values.
func (c *Client) Install(ctx context.Context, name string, ch *helmrelease.Chart, values map[string]any, opts InstallOptions) (*Release, error) {
	in := action.NewInstall(c.cfg)
	in.ReleaseName = name
	in.Namespace = c.namespace
	in.Timeout = timeoutOr(opts.Timeout)
	in.SkipCRDs = opts.CRDs == CRDsSkip || opts.CRDs == CRDsCreateReplace
	if opts.CRDs == CRDsCreateReplace {
		if err := c.applyCRDs(ctx, ch, opts.CRDs, opts.Timeout); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	in.CreateNamespace = opts.CreateNamespace
	in.DisableHooks = opts.DisableHooks
	in.WaitStrategy = opts.Wait.strategy()
	waitOpts, werr := c.waitOptions(opts.Wait)
	if werr != nil {
		return nil, fmt.Errorf("%s: %w", name, werr)
	}
	in.WaitOptions = waitOpts
	in.WaitForJobs = !opts.Wait.Disable && !opts.Wait.DisableForJobs
	in.Replace = opts.Replace
	in.ServerSideApply = !opts.ClientSideApply
	in.Description = opts.Description
	if len(opts.PostRenderers) > 0 {
		in.PostRenderer = postRenderers(opts.PostRenderers)
	}
	if opts.PostRenderStrategy != "" {
		in.PostRenderStrategy = action.PostRenderStrategy(opts.PostRenderStrategy)
	}
	if values == nil {
		values = map[string]any{}
	}
	r, err := recovered(func() (any, error) { return in.RunWithContext(ctx, ch.Helm(), values) })
	return c.result(name, r, err)
}

// UpgradeOptions are Flux's spec.upgrade options.
type UpgradeOptions struct {
	Timeout      time.Duration
	CRDs         CRDPolicy
	DisableHooks bool
	Wait         Wait
	// Force replaces objects instead of patching them (spec.upgrade.force).
	Force bool
	// CleanupOnFail deletes the objects the failed upgrade created
	// (spec.upgrade.cleanupOnFail).
	CleanupOnFail bool
	// ClientSideApply applies with client-side apply instead of Helm 4's
	// default for the release.
	ClientSideApply bool
	// PostRenderers run over manifests and hooks.
	PostRenderers []helmrelease.PostRenderer
	// PostRenderStrategy is as InstallOptions.PostRenderStrategy.
	PostRenderStrategy string
	Description        string
}

// Upgrade upgrades the release to ch with values (which replace the
// release's values: Flux composes them in full every time).
func (c *Client) Upgrade(ctx context.Context, name string, ch *helmrelease.Chart, values map[string]any, opts UpgradeOptions) (*Release, error) {
	up := action.NewUpgrade(c.cfg)
	up.Namespace = c.namespace
	up.Timeout = timeoutOr(opts.Timeout)
	// Helm never touches crds/ on upgrade; Flux applies them itself.
	up.SkipCRDs = true
	if opts.CRDs == CRDsCreate || opts.CRDs == CRDsCreateReplace {
		if err := c.applyCRDs(ctx, ch, opts.CRDs, opts.Timeout); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	up.DisableHooks = opts.DisableHooks
	up.WaitStrategy = opts.Wait.strategy()
	waitOpts, werr := c.waitOptions(opts.Wait)
	if werr != nil {
		return nil, fmt.Errorf("%s: %w", name, werr)
	}
	up.WaitOptions = waitOpts
	up.WaitForJobs = !opts.Wait.Disable && !opts.Wait.DisableForJobs
	up.ForceReplace = opts.Force
	up.CleanupOnFail = opts.CleanupOnFail
	up.ResetValues = true
	up.MaxHistory = c.maxHistory
	up.Description = opts.Description
	if opts.ClientSideApply {
		up.ServerSideApply = "false"
	}
	if len(opts.PostRenderers) > 0 {
		up.PostRenderer = postRenderers(opts.PostRenderers)
	}
	if opts.PostRenderStrategy != "" {
		up.PostRenderStrategy = action.PostRenderStrategy(opts.PostRenderStrategy)
	}
	if values == nil {
		values = map[string]any{}
	}
	r, err := recovered(func() (any, error) { return up.RunWithContext(ctx, name, ch.Helm(), values) })
	return c.result(name, r, err)
}

// TestOptions are Flux's spec.test options.
type TestOptions struct {
	Timeout time.Duration
	// Filters select tests as helm test --filter does: "name" lists test
	// names to run, "!name" names to skip.
	Filters map[string][]string
}

// Test runs the release's test hooks; the Release's Tests hold each
// result, and the error reports a failed test.
func (c *Client) Test(ctx context.Context, name string, opts TestOptions) (*Release, error) {
	t := action.NewReleaseTesting(c.cfg)
	t.Namespace = c.namespace
	t.Timeout = timeoutOr(opts.Timeout)
	t.Filters = opts.Filters
	r, err := recovered(func() (any, error) {
		rel, shutdown, err := t.Run(name)
		if shutdown != nil {
			_ = shutdown()
		}
		return rel, err
	})
	return c.result(name, r, err)
}

// RollbackOptions are Flux's spec.rollback options.
type RollbackOptions struct {
	// Revision to roll back to; 0 means the previous one.
	Revision      int
	Timeout       time.Duration
	DisableHooks  bool
	Wait          Wait
	Force         bool
	CleanupOnFail bool
}

// Rollback rolls the release back and returns the new revision.
func (c *Client) Rollback(ctx context.Context, name string, opts RollbackOptions) (*Release, error) {
	rb := action.NewRollback(c.cfg)
	rb.Version = opts.Revision
	rb.Timeout = timeoutOr(opts.Timeout)
	rb.DisableHooks = opts.DisableHooks
	rb.WaitStrategy = opts.Wait.strategy()
	waitOpts, werr := c.waitOptions(opts.Wait)
	if werr != nil {
		return nil, fmt.Errorf("%s: %w", name, werr)
	}
	rb.WaitOptions = waitOpts
	rb.WaitForJobs = !opts.Wait.Disable && !opts.Wait.DisableForJobs
	rb.ForceReplace = opts.Force
	rb.CleanupOnFail = opts.CleanupOnFail
	rb.MaxHistory = c.maxHistory
	_, err := recovered(func() (any, error) { return nil, rb.Run(name) })
	last, lerr := c.Last(ctx, name)
	if err != nil {
		return last, fmt.Errorf("rollback %s: %w", name, err)
	}
	return last, lerr
}

// UninstallOptions are Flux's spec.uninstall options.
type UninstallOptions struct {
	Timeout      time.Duration
	KeepHistory  bool
	DisableHooks bool
	Wait         Wait
	// DeletionPropagation is "background" (default), "foreground" or
	// "orphan".
	DeletionPropagation string
}

// Uninstall uninstalls the release; with KeepHistory the returned Release
// is the uninstalled revision, else nil.
func (c *Client) Uninstall(ctx context.Context, name string, opts UninstallOptions) (*Release, error) {
	un := action.NewUninstall(c.cfg)
	un.Timeout = timeoutOr(opts.Timeout)
	un.KeepHistory = opts.KeepHistory
	un.DisableHooks = opts.DisableHooks
	un.WaitStrategy = opts.Wait.strategy()
	un.DeletionPropagation = opts.DeletionPropagation
	if un.DeletionPropagation == "" {
		un.DeletionPropagation = "background"
	}
	_, err := recovered(func() (any, error) { return un.Run(name) })
	if err != nil {
		if errors.Is(err, driver.ErrReleaseNotFound) {
			return nil, fmt.Errorf("uninstall %s: %w", name, ErrReleaseNotFound)
		}
		return nil, fmt.Errorf("uninstall %s: %w", name, err)
	}
	if !opts.KeepHistory {
		return nil, nil
	}
	return c.Last(ctx, name)
}

// Unlock marks a release left pending (an action interrupted) as failed,
// as Flux unlocks stale pending releases, so that it can be remediated.
func (c *Client) Unlock(ctx context.Context, name string) (*Release, error) {
	rls, err := c.last(name)
	if err != nil {
		return nil, err
	}
	if !rls.Info.Status.IsPending() {
		return releaseOf(rls), nil
	}
	rls.SetStatus(rcommon.StatusFailed, fmt.Sprintf("Release unlocked from stale '%s' state", rls.Info.Status))
	if err := c.cfg.Releases.Update(rls); err != nil {
		return nil, fmt.Errorf("unlock %s: %w", name, err)
	}
	return releaseOf(rls), nil
}

// Last returns the latest revision of the release, or an error wrapping
// ErrReleaseNotFound.
func (c *Client) Last(_ context.Context, name string) (*Release, error) {
	rls, err := c.last(name)
	if err != nil {
		return nil, err
	}
	return releaseOf(rls), nil
}

// History returns the release's revisions, oldest first.
func (c *Client) History(_ context.Context, name string) ([]*Release, error) {
	hs, err := c.cfg.Releases.History(name)
	if err != nil {
		if errors.Is(err, driver.ErrReleaseNotFound) {
			return nil, fmt.Errorf("history of %s: %w", name, ErrReleaseNotFound)
		}
		return nil, fmt.Errorf("history of %s: %w", name, err)
	}
	var out []*Release
	for _, h := range hs {
		if r, ok := h.(*releasev1.Release); ok {
			out = append(out, releaseOf(r))
		}
	}
	sortByRevision(out)
	return out, nil
}

func (c *Client) last(name string) (*releasev1.Release, error) {
	r, err := c.cfg.Releases.Last(name)
	if err != nil {
		if errors.Is(err, driver.ErrReleaseNotFound) {
			return nil, fmt.Errorf("release %s: %w", name, ErrReleaseNotFound)
		}
		return nil, fmt.Errorf("release %s: %w", name, err)
	}
	rls, ok := r.(*releasev1.Release)
	if !ok {
		return nil, fmt.Errorf("release %s: unexpected type %T", name, r)
	}
	return rls, nil
}

// result turns an action's outcome into a Release: the release the action
// returned, else the latest in storage (a failed action stores one).
func (c *Client) result(name string, r any, err error) (*Release, error) {
	var out *Release
	if rls, ok := r.(*releasev1.Release); ok && rls != nil {
		out = releaseOf(rls)
	} else if last, lerr := c.last(name); lerr == nil {
		out = releaseOf(last)
	}
	if err != nil {
		return out, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// recovered runs fn, turning a panic of the SDK into an error.
func recovered(fn func() (any, error)) (r any, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("helm failed: %v", p)
		}
	}()
	return fn()
}
