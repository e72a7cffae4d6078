package helm_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/source/helm"
)

// A Repository without a caller's Transport leaves no connection open
// once a call returns: a reconciler makes one per object, and idle
// connections kept until their timeout would pile up with the objects.
func TestNoIdleConnectionLeftOpen(t *testing.T) {
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("apiVersion: v1\nentries: {}\n"))
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case http.StateNew:
			open[c] = true
		case http.StateClosed, http.StateHijacked:
			delete(open, c)
		}
	}
	srv.Start()
	defer srv.Close()

	for i := 0; i < 3; i++ {
		r := &helm.Repository{URL: srv.URL}
		if _, err := r.Index(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(open)
		mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open after the calls returned", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
