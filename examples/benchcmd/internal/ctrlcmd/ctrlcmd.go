package ctrlcmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gitopskit/gitopskit/examples/fluxscheme"
)

// Flags are the flags every controller command takes.
type Flags struct {
	// Kubeconfig is the path of the kubeconfig file of the cluster.
	Kubeconfig string
	// Concurrency is the number of parallel reconciles of each controller.
	Concurrency int
	// Requests prints the API requests by method and resource to stderr
	// on exit.
	Requests bool
	// CPUProfile and MemProfile, when set, are files that receive a CPU
	// profile of the whole run and an allocation profile on exit.
	CPUProfile, MemProfile string
}

// Register adds the flags to fs; defaultConcurrency is -concurrency's
// default.
func (f *Flags) Register(fs *flag.FlagSet, defaultConcurrency int) {
	fs.StringVar(&f.Kubeconfig, "kubeconfig", "", "path of the cluster's kubeconfig (required)")
	fs.IntVar(&f.Concurrency, "concurrency", defaultConcurrency, "parallel reconciles")
	fs.BoolVar(&f.Requests, "requests", false, "print the API requests by method and resource to stderr on exit")
	fs.StringVar(&f.CPUProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	fs.StringVar(&f.MemProfile, "memprofile", "", "write an allocation profile to this file on exit")
}

// Setup registers a command's reconcilers with mgr; ctx ends when the
// command stops.
type Setup func(ctx context.Context, mgr ctrl.Manager) error

// Run builds a manager for the cluster of f.Kubeconfig, calls setup, and
// runs the manager until SIGTERM or SIGINT. It prints "ready" on stdout
// once the caches have synced, so a benchmark starts its clock only when
// the controllers are watching.
func Run(f Flags, setup Setup) error {
	if f.Kubeconfig == "" {
		return errors.New("-kubeconfig is required")
	}
	if f.CPUProfile != "" {
		out, err := os.Create(f.CPUProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			out.Close()
		}()
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", f.Kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	// The client-side rate limits the benchmark's in-process runs had
	// (those of the local control plane's config).
	cfg.QPS, cfg.Burst = 500, 1000
	var counter *RequestCounter
	if f.Requests {
		counter = &RequestCounter{}
		cfg = counter.Wrap(cfg)
	}
	scheme, err := fluxscheme.New()
	if err != nil {
		return err
	}
	logf.SetLogger(logr.Discard())
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Logger:  logr.Discard(),
		Metrics: metricsserver.Options{BindAddress: "0"},
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := setup(ctx, mgr); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	synced := mgr.GetCache().WaitForCacheSync(sctx)
	cancel()
	if !synced {
		stop()
		return errors.Join(errors.New("caches did not sync"), <-done)
	}
	fmt.Println("ready")
	err = <-done
	if counter != nil {
		counter.Print(os.Stderr)
	}
	if f.MemProfile != "" {
		out, perr := os.Create(f.MemProfile)
		if perr == nil {
			perr = pprof.Lookup("allocs").WriteTo(out, 0)
			out.Close()
		}
		err = errors.Join(err, perr)
	}
	return err
}

// Main is a controller command's main function: it parses the command line
// into the common Flags and the flags register adds (register may be nil),
// runs the manager with the reconcilers setup returns as Run does, and
// exits with status 1 and the error, prefixed with name, on failure.
func Main(name string, defaultConcurrency int, register func(fs *flag.FlagSet), setup func(f Flags) Setup) {
	// A flag set of our own: controller-runtime registers -kubeconfig on
	// the global one.
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	var f Flags
	f.Register(fs, defaultConcurrency)
	if register != nil {
		register(fs)
	}
	_ = fs.Parse(os.Args[1:])
	if err := Run(f, setup(f)); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}
