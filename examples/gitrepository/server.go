package gitrepository

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/gitopskit/gitopskit/artifact"
)

// StorageServer serves a Store's artifacts over HTTP. It is a
// controller-runtime Runnable: add it to the manager with mgr.Add.
type StorageServer struct {
	// Store is the store whose files are served.
	Store *artifact.Store
	// Listener accepts the connections; create it before the Store so the
	// Store's base URL can name its address.
	Listener net.Listener
}

// Start serves until ctx ends.
func (s *StorageServer) Start(ctx context.Context) error {
	srv := &http.Server{Handler: s.Store.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.Listener) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
			err = e
		}
		return err
	}
}

// NeedLeaderElection reports false: every replica serves its store.
func (s *StorageServer) NeedLeaderElection() bool { return false }
