package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/openapi"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Discovery shares what the API servers' discovery documents say (their
// API groups and resources, and the REST mapping built from them) among
// the Clients of a controller (Options.Discovery), instead of each Client
// downloading them and building its own mapping. Freshness is Helm's:
// every Client sees discovery data fetched after it was created and after
// its last invalidation (Helm invalidates before each action and after
// installing CRDs), so the data is never older than it would be without
// sharing; concurrent Clients that need newer data wait for one download
// together. Data is kept per API server and identity (rest.Config host,
// credentials and impersonation), so identities whose RBAC differs never
// see each other's view, and only as long as a Client holds it. The zero
// value is ready to use; it is safe for concurrent use.
type Discovery struct {
	mu      sync.Mutex
	servers map[string]*serverDiscovery
}

// sweepAt is the number of servers and identities from which Discovery
// forgets, on adding one, those whose data no Client holds.
const sweepAt = 64

// client returns a view of the discovery data of cfg's server and
// identity, fresh from now on.
func (d *Discovery) client(cfg *rest.Config) (*sharedDiscoveryClient, error) {
	key := discoveryKey(cfg)
	d.mu.Lock()
	s, ok := d.servers[key]
	if !ok {
		dc, err := discovery.NewDiscoveryClientForConfig(rest.CopyConfig(cfg))
		if err != nil {
			d.mu.Unlock()
			return nil, err
		}
		s = &serverDiscovery{dc: dc}
		if d.servers == nil {
			d.servers = map[string]*serverDiscovery{}
		}
		if len(d.servers) >= sweepAt {
			// Identities come and go (one per service account, say):
			// forget those no Client holds data of.
			for k, o := range d.servers {
				if o.current() == nil {
					delete(d.servers, k)
				}
			}
		}
		d.servers[key] = s
	}
	d.mu.Unlock()
	c := &sharedDiscoveryClient{s: s}
	c.Invalidate()
	return c, nil
}

// discoveryKey identifies the server and the identity of cfg, hashed so
// that no credential is kept in the key.
func discoveryKey(cfg *rest.Config) string {
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s;", len(s), s) }
	field(cfg.Host)
	field(cfg.APIPath)
	field(cfg.Username)
	field(cfg.Password)
	field(cfg.BearerToken)
	field(cfg.BearerTokenFile)
	field(cfg.CertFile)
	field(string(cfg.CertData))
	field(cfg.CAFile)
	field(string(cfg.CAData))
	field(cfg.ServerName)
	field(fmt.Sprint(cfg.Insecure))
	field(cfg.Impersonate.UserName)
	field(cfg.Impersonate.UID)
	for _, g := range cfg.Impersonate.Groups {
		field(g)
	}
	keys := make([]string, 0, len(cfg.Impersonate.Extra))
	for k := range cfg.Impersonate.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		field(k)
		for _, v := range cfg.Impersonate.Extra[k] {
			field(v)
		}
	}
	if p := cfg.AuthProvider; p != nil {
		field(p.Name)
		keys = keys[:0]
		for k := range p.Config {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			field(k)
			field(p.Config[k])
		}
	}
	if e := cfg.ExecProvider; e != nil {
		field(e.Command)
		for _, a := range e.Args {
			field(a)
		}
		for _, v := range e.Env {
			field(v.Name)
			field(v.Value)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// serverDiscovery is the discovery data of one server and identity.
type serverDiscovery struct {
	dc discovery.DiscoveryInterface
	// fetch serializes downloads: Clients needing newer data than snap
	// wait for one download instead of each making its own.
	fetch sync.Mutex
	mu    sync.RWMutex
	// snap is the latest download, held only as long as a Client holds
	// it: a download serves the Clients created before it started, so
	// keeping it longer would serve no one.
	snap weak.Pointer[discoverySnapshot]
}

// discoverySnapshot is one download of the groups and resources, and the
// REST mapping over them.
type discoverySnapshot struct {
	// at is when the download started: the data is at least that recent.
	at     time.Time
	cache  discovery.CachedDiscoveryInterface
	mapper meta.RESTMapper
}

func (s *serverDiscovery) current() *discoverySnapshot {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.snap.Value()
}

// get returns discovery data downloaded after floor.
func (s *serverDiscovery) get(floor time.Time) (*discoverySnapshot, error) {
	if sn := s.current(); sn != nil && !sn.at.Before(floor) {
		return sn, nil
	}
	s.fetch.Lock()
	defer s.fetch.Unlock()
	if sn := s.current(); sn != nil && !sn.at.Before(floor) {
		return sn, nil
	}
	at := time.Now()
	cache := memory.NewMemCacheClient(s.dc)
	groups, err := restmapper.GetAPIGroupResources(cache)
	if err != nil {
		return nil, err
	}
	sn := &discoverySnapshot{at: at, cache: cache, mapper: restmapper.NewDiscoveryRESTMapper(groups)}
	s.mu.Lock()
	s.snap = weak.Make(sn)
	s.mu.Unlock()
	return sn, nil
}

// sharedDiscoveryClient is one Client's view of a serverDiscovery: a
// cached discovery client whose data is never older than the view's floor
// (its creation or last Invalidate).
type sharedDiscoveryClient struct {
	s     *serverDiscovery
	floor atomic.Int64 // UnixNano
	// last is the data the view served last, kept alive by the view.
	last atomic.Pointer[discoverySnapshot]
}

var _ discovery.CachedDiscoveryInterface = (*sharedDiscoveryClient)(nil)

func (c *sharedDiscoveryClient) snapshot() (*discoverySnapshot, error) {
	floor := time.Unix(0, c.floor.Load())
	if sn := c.last.Load(); sn != nil && !sn.at.Before(floor) {
		if cur := c.s.current(); cur == nil || !cur.at.After(sn.at) {
			return sn, nil
		}
	}
	sn, err := c.s.get(floor)
	if err != nil {
		return nil, err
	}
	c.last.Store(sn)
	return sn, nil
}

// Fresh reports whether the data the view would serve now needs no
// download, as a memory cache reports it after filling.
func (c *sharedDiscoveryClient) Fresh() bool {
	floor := time.Unix(0, c.floor.Load())
	for _, sn := range []*discoverySnapshot{c.last.Load(), c.s.current()} {
		if sn != nil && !sn.at.Before(floor) {
			return true
		}
	}
	return false
}

// Invalidate makes the view serve only data downloaded from now on.
func (c *sharedDiscoveryClient) Invalidate() { c.floor.Store(time.Now().UnixNano()) }

func (c *sharedDiscoveryClient) RESTClient() rest.Interface { return c.s.dc.RESTClient() }

func (c *sharedDiscoveryClient) ServerGroups() (*metav1.APIGroupList, error) {
	sn, err := c.snapshot()
	if err != nil {
		return nil, err
	}
	return sn.cache.ServerGroups()
}

func (c *sharedDiscoveryClient) ServerResourcesForGroupVersion(gv string) (*metav1.APIResourceList, error) {
	sn, err := c.snapshot()
	if err != nil {
		return nil, err
	}
	return sn.cache.ServerResourcesForGroupVersion(gv)
}

func (c *sharedDiscoveryClient) ServerGroupsAndResources() ([]*metav1.APIGroup, []*metav1.APIResourceList, error) {
	sn, err := c.snapshot()
	if err != nil {
		return nil, nil, err
	}
	return sn.cache.ServerGroupsAndResources()
}

func (c *sharedDiscoveryClient) ServerPreferredResources() ([]*metav1.APIResourceList, error) {
	sn, err := c.snapshot()
	if err != nil {
		return nil, err
	}
	return sn.cache.ServerPreferredResources()
}

func (c *sharedDiscoveryClient) ServerPreferredNamespacedResources() ([]*metav1.APIResourceList, error) {
	sn, err := c.snapshot()
	if err != nil {
		return nil, err
	}
	return sn.cache.ServerPreferredNamespacedResources()
}

// ServerVersion asks the server every time, as a memory cache does.
func (c *sharedDiscoveryClient) ServerVersion() (*version.Info, error) { return c.s.dc.ServerVersion() }

// OpenAPISchema asks the server every time, as a memory cache does.
func (c *sharedDiscoveryClient) OpenAPISchema() (*openapi_v2.Document, error) {
	return c.s.dc.OpenAPISchema()
}

// OpenAPIV3 is the OpenAPI v3 client of the data the view serves.
func (c *sharedDiscoveryClient) OpenAPIV3() openapi.Client {
	sn, err := c.snapshot()
	if err != nil {
		return c.s.dc.OpenAPIV3()
	}
	return sn.cache.OpenAPIV3()
}

func (c *sharedDiscoveryClient) WithLegacy() discovery.DiscoveryInterface { return c }

// sharedMapper is the REST mapping of a view's data, reset (made to use
// newer data) as the view is invalidated.
type sharedMapper struct{ c *sharedDiscoveryClient }

var _ meta.ResettableRESTMapper = sharedMapper{}

func (m sharedMapper) mapper() (meta.RESTMapper, error) {
	sn, err := m.c.snapshot()
	if err != nil {
		return nil, err
	}
	return sn.mapper, nil
}

// Reset makes the mapping use only data downloaded from now on.
func (m sharedMapper) Reset() { m.c.Invalidate() }

func (m sharedMapper) KindFor(r schema.GroupVersionResource) (schema.GroupVersionKind, error) {
	mp, err := m.mapper()
	if err != nil {
		return schema.GroupVersionKind{}, err
	}
	return mp.KindFor(r)
}

func (m sharedMapper) KindsFor(r schema.GroupVersionResource) ([]schema.GroupVersionKind, error) {
	mp, err := m.mapper()
	if err != nil {
		return nil, err
	}
	return mp.KindsFor(r)
}

func (m sharedMapper) ResourceFor(r schema.GroupVersionResource) (schema.GroupVersionResource, error) {
	mp, err := m.mapper()
	if err != nil {
		return schema.GroupVersionResource{}, err
	}
	return mp.ResourceFor(r)
}

func (m sharedMapper) ResourcesFor(r schema.GroupVersionResource) ([]schema.GroupVersionResource, error) {
	mp, err := m.mapper()
	if err != nil {
		return nil, err
	}
	return mp.ResourcesFor(r)
}

func (m sharedMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	mp, err := m.mapper()
	if err != nil {
		return nil, err
	}
	return mp.RESTMapping(gk, versions...)
}

func (m sharedMapper) RESTMappings(gk schema.GroupKind, versions ...string) ([]*meta.RESTMapping, error) {
	mp, err := m.mapper()
	if err != nil {
		return nil, err
	}
	return mp.RESTMappings(gk, versions...)
}

func (m sharedMapper) ResourceSingularizer(resource string) (string, error) {
	mp, err := m.mapper()
	if err != nil {
		return "", err
	}
	return mp.ResourceSingularizer(resource)
}
