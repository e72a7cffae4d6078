package notification

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	notifyv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/gitopskit/gitopskit/examples/fluxscheme"
	"github.com/gitopskit/gitopskit/notify"
	"github.com/gitopskit/gitopskit/notify/provider"
	"github.com/gitopskit/gitopskit/notify/receiver"
)

// ControllerName is the reporting controller of this controller's Events,
// as in Flux.
const ControllerName = "notification-controller"

// Options configures Setup and Start. The zero value listens on free
// loopback ports.
type Options struct {
	// EventAddr is the listen address of the event server, where other
	// controllers post their events; "" means 127.0.0.1 on a free port
	// (Flux serves it on :9090).
	EventAddr string
	// ReceiverAddr is the listen address of the webhook receiver server;
	// "" means 127.0.0.1 on a free port (Flux serves it on :9292).
	ReceiverAddr string
	// NoCrossNamespaceRefs keeps Alerts and Receivers to their namespace.
	NoCrossNamespaceRefs bool
	// DedupWindow is the window within which identical events are
	// dropped; 0 means notify.DefaultDedupWindow.
	DedupWindow time.Duration
	// SkipNameValidation allows several managers in one process (tests).
	SkipNameValidation bool
	// Logger logs deliveries and webhook failures; the zero Logger discards.
	Logger logr.Logger
}

// Servers are the addresses of a set-up notification controller.
type Servers struct {
	// EventURL is the event server's URL, for notify.NewHTTPRecorder.
	EventURL string
	// ReceiverURL is the webhook server's base URL; a Receiver is served
	// at ReceiverURL + .status.webhookPath.
	ReceiverURL string
}

// Setup registers the Receiver controller, the event server (alert
// dispatch) and the webhook receiver server with mgr.
func Setup(mgr ctrl.Manager, opts Options) (*Servers, error) {
	rr := &ReceiverReconciler{Client: mgr.GetClient()}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &notifyv1.Receiver{}, WebhookPathIndex, webhookPathOf); err != nil {
		return nil, err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &notifyv1.Receiver{}, SecretRefIndex, secretRefOf); err != nil {
		return nil, err
	}
	err := ctrl.NewControllerManagedBy(mgr).
		Named("receiver").
		For(&notifyv1.Receiver{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		// A new token changes the webhook path: no spec change needed.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(rr.forSecret)).
		WithOptions(controller.Options{SkipNameValidation: &opts.SkipNameValidation}).
		Complete(rr)
	if err != nil {
		return nil, err
	}
	d := &Dispatcher{
		Client:               mgr.GetClient(),
		Recorder:             mgr.GetEventRecorder(ControllerName),
		NoCrossNamespaceRefs: opts.NoCrossNamespaceRefs,
		Logger:               opts.Logger,
		Tokens:               &provider.TokenCache{},
	}
	events := notify.NewHandler(d, notify.WithDeduplicator(notify.NewDeduplicator(opts.DedupWindow, nil)))
	hooks, err := receiver.NewHandler(receiver.HandlerOptions{
		Lookup: rr, Resolver: rr, Request: rr.Request, NoCrossNamespaceRefs: opts.NoCrossNamespaceRefs,
	})
	if err != nil {
		return nil, err
	}
	var s Servers
	for _, srv := range []struct {
		addr string
		h    http.Handler
		url  *string
	}{{opts.EventAddr, events, &s.EventURL}, {opts.ReceiverAddr, hooks, &s.ReceiverURL}} {
		if srv.addr == "" {
			srv.addr = "127.0.0.1:0"
		}
		ln, err := net.Listen("tcp", srv.addr)
		if err != nil {
			return nil, fmt.Errorf("notification servers: %w", err)
		}
		*srv.url = "http://" + ln.Addr().String()
		if err := mgr.Add(&server{ln: ln, h: srv.h, log: opts.Logger}); err != nil {
			ln.Close()
			return nil, err
		}
	}
	return &s, nil
}

// server serves a handler until the manager stops; it runs on every
// replica, as Flux's servers do, not only on the leader.
type server struct {
	ln  net.Listener
	h   http.Handler
	log logr.Logger
}

// Start serves until ctx ends.
func (s *server) Start(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s.h,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return logr.NewContext(context.Background(), s.log) },
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(s.ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// NeedLeaderElection reports false: every replica serves.
func (s *server) NeedLeaderElection() bool { return false }

// Running is a started notification controller.
type Running struct {
	Servers
	// Client is the manager's client.
	Client client.Client

	cancel context.CancelFunc
	done   chan error
}

// Start starts a manager running the notification controller until ctx
// ends or Stop is called; it returns once the caches have synced.
func Start(ctx context.Context, cfg *rest.Config, opts Options) (*Running, error) {
	scheme, err := fluxscheme.New()
	if err != nil {
		return nil, err
	}
	// A zero Logger would make the manager fall back to controller-runtime's
	// global logger (and its warning when none was set): discard instead,
	// as Options documents.
	logger := opts.Logger
	if logger.GetSink() == nil {
		logger = logr.Discard()
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Logger: logger, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		return nil, err
	}
	s, err := Setup(mgr, opts)
	if err != nil {
		return nil, err
	}
	mctx, cancel := context.WithCancel(ctx)
	r := &Running{Servers: *s, Client: mgr.GetClient(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- mgr.Start(mctx) }()
	sctx, scancel := context.WithTimeout(ctx, time.Minute)
	defer scancel()
	if !mgr.GetCache().WaitForCacheSync(sctx) {
		cancel()
		return nil, errors.Join(errors.New("notification: caches did not sync"), <-r.done)
	}
	return r, nil
}

// Stop stops the manager and waits for it to finish.
func (r *Running) Stop() error {
	r.cancel()
	return <-r.done
}
