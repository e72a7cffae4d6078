package clustertest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/reconcile"
)

// requestLog records "METHOD path" of every request while recording.
type requestLog struct {
	rt  http.RoundTripper
	mu  sync.Mutex
	on  bool
	log []string
}

func (l *requestLog) RoundTrip(r *http.Request) (*http.Response, error) {
	l.mu.Lock()
	if l.on {
		l.log = append(l.log, r.Method+" "+r.URL.Path)
	}
	l.mu.Unlock()
	return l.rt.RoundTrip(r)
}

func (l *requestLog) record(on bool) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on = on
	out := l.log
	l.log = nil
	return out
}

// Waiting for two ConfigMaps in a namespace that holds many more reads
// those two objects only, unless the caching status reader is chosen, which
// lists the whole namespace's ConfigMaps on every poll.
func TestWaitStatusReader(t *testing.T) {
	ns := uniqueNS("statusreader")
	ctx := ctxT(t, 2*time.Minute)
	docs := "apiVersion: v1\nkind: Namespace\nmetadata: {name: NS}\n"
	for i := range 40 {
		docs += fmt.Sprintf("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d, namespace: NS}\ndata: {k: v}\n", i)
	}
	createAll(t, objects(t, ns, docs))
	inv := reconcile.NewInventory(cm(ns, "cm-3"), cm(ns, "cm-7"))
	base := "/api/v1/namespaces/" + ns + "/configmaps"

	tests := []struct {
		name    string
		caching bool
		want    map[string]bool
	}{
		{name: "direct (default)", want: map[string]bool{"GET " + base + "/cm-3": true, "GET " + base + "/cm-7": true}},
		{name: "caching", caching: true, want: map[string]bool{"GET " + base: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rl := &requestLog{}
			cfg := rest.CopyConfig(env.Config)
			cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { rl.rt = rt; return rl })
			c, err := reconcile.NewClient(cfg, client.Options{Scheme: env.Client.Scheme()})
			if err != nil {
				t.Fatal(err)
			}
			m := newManager(t, c, reconcile.Options{CachingStatusReader: tc.caching})
			rl.record(true)
			if err := m.Wait(ctx, inv, reconcile.WaitOptions{Timeout: 30 * time.Second}); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, r := range rl.record(false) {
				if strings.HasPrefix(r, "GET /api/v1/namespaces/"+ns+"/") {
					got[r] = true
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("requests during Wait (-want +got):\n%s", diff)
			}
		})
	}
}
