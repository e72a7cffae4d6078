package oci_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/gitopskit/gitopskit/source/oci"
)

// A Client without a caller's Transport leaves no connection open once a
// call returns: a reconciler makes one per object, and idle connections
// kept until their timeout would pile up with the objects.
func TestNoIdleConnectionLeftOpen(t *testing.T) {
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	srv := httptest.NewUnstartedServer(registry.New())
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

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("a: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	url := "oci://" + strings.TrimPrefix(srv.URL, "http://") + "/conn/app"
	ctx := context.Background()
	if _, err := (&oci.Client{Insecure: true}).Push(ctx, url, "v1", dir, oci.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if tags, err := (&oci.Client{Insecure: true}).ListTags(ctx, url); err != nil || len(tags) != 1 {
			t.Fatalf("tags %v: %v", tags, err)
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
