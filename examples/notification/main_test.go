package notification_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gitopskit/gitopskit/examples/controllers"
	"github.com/gitopskit/gitopskit/examples/fluxscheme"
	"github.com/gitopskit/gitopskit/examples/notification"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/notify"
)

var (
	env      *testenv.Env
	servers  notification.Servers
	eventErr = make(chan error, 16)
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	scheme, err := fluxscheme.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env, err = testenv.Start(ctx, testenv.Options{FluxCRDs: true, Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop()
	logf.SetLogger(logr.Discard())
	logger := logr.Discard()
	if path := os.Getenv("GITOPSKIT_TEST_LOG"); path != "" {
		lf, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer lf.Close()
		logger = funcr.New(func(prefix, args string) { fmt.Fprintln(lf, prefix, args) }, funcr.Options{Verbosity: 1})
	}
	nc, err := notification.Start(ctx, env.Config, notification.Options{Logger: logger, SkipNameValidation: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	servers = nc.Servers
	// The other controllers post their events to the event server, as
	// Flux's controllers post to the notification-controller.
	rec, err := notify.NewHTTPRecorder(servers.EventURL, notify.WithBackoff(100*time.Millisecond, time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	queue := notify.NewQueue(rec, 1024, func(_ notify.Event, err error) {
		select {
		case eventErr <- err:
		default:
		}
	})
	go func() { _ = queue.Run(ctx) }()
	storeDir, err := os.MkdirTemp("", "notification-test-store-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(storeDir)
	running, err := controllers.Start(ctx, controllers.Config{
		REST:               env.Config,
		StoreDir:           storeDir,
		Logger:             logger,
		SkipNameValidation: true,
		Notify:             queue,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if err := running.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "controllers:", err)
		code = 1
	}
	if err := nc.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "notification:", err)
		code = 1
	}
	return code
}
