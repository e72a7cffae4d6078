package cluster

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// restGetter gives Helm's kube client a rest.Config (Helm wants
// genericclioptions.RESTClientGetter), with a discovery cache per getter
// (a view of a shared Discovery when there is one), or, when fresh, a new
// discovery client and REST mapper on every call.
type restGetter struct {
	cfg       *rest.Config
	namespace string
	fresh     bool
	disco     discovery.CachedDiscoveryInterface
	mapper    meta.RESTMapper
}

func newRESTGetter(cfg *rest.Config, namespace string, fresh bool, shared *Discovery) (*restGetter, error) {
	g := &restGetter{cfg: cfg, namespace: namespace, fresh: fresh}
	if shared != nil && !fresh {
		dc, err := shared.client(cfg)
		if err != nil {
			return nil, err
		}
		g.disco, g.mapper = dc, restmapper.NewShortcutExpander(sharedMapper{dc}, dc, nil)
		return g, nil
	}
	var err error
	g.disco, g.mapper, err = g.discovery()
	return g, err
}

// discovery returns a new cached discovery client and the REST mapper
// over it.
func (g *restGetter) discovery() (discovery.CachedDiscoveryInterface, meta.RESTMapper, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(rest.CopyConfig(g.cfg))
	if err != nil {
		return nil, nil, err
	}
	cached := memory.NewMemCacheClient(dc)
	return cached, restmapper.NewShortcutExpander(restmapper.NewDeferredDiscoveryRESTMapper(cached), cached, nil), nil
}

func (g *restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.cfg), nil }

func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	if g.fresh {
		d, _, err := g.discovery()
		return d, err
	}
	return g.disco, nil
}

func (g *restGetter) ToRESTMapper() (meta.RESTMapper, error) {
	if g.fresh {
		_, m, err := g.discovery()
		return m, err
	}
	return g.mapper, nil
}

func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	return clientcmd.NewDefaultClientConfig(*clientcmdapi.NewConfig(), &clientcmd.ConfigOverrides{
		Context: clientcmdapi.Context{Namespace: g.namespace},
	})
}
