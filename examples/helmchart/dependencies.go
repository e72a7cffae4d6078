package helmchart

import (
	"context"
	"fmt"
	"strings"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/helmrepository"
	"github.com/gitopskit/gitopskit/source/helm"
	"github.com/gitopskit/gitopskit/source/oci"
)

// dependencyRepository returns the helm.Build hook that reads an HTTP(S)
// dependency's repository with the Secrets of the HelmRepository of
// namespace ns whose URL is the dependency's, as Flux does; a URL no
// HelmRepository has is read anonymously.
func (r *Reconciler) dependencyRepository(ns string) func(ctx context.Context, url string) (*helm.Repository, error) {
	return func(ctx context.Context, url string) (*helm.Repository, error) {
		repo, err := r.repositoryFor(ctx, ns, url, false)
		if err != nil || repo == nil {
			return &helm.Repository{URL: url, Cache: r.Cache}, err
		}
		out, err := helmrepository.Repository(ctx, r.Client, repo, r.Cache)
		if err != nil {
			return nil, fmt.Errorf("dependency repository '%s': HelmRepository '%s': %w", url, repo.Name, err)
		}
		out.URL = url
		return out, nil
	}
}

// dependencyClient returns the helm.Build hook that reads an oci://
// dependency with the Secrets and spec.insecure of the OCI HelmRepository
// of namespace ns whose URL is the dependency's; without one the zero
// oci.Client is used.
func (r *Reconciler) dependencyClient(ns string) func(ctx context.Context, url string) (oci.Client, error) {
	return func(ctx context.Context, url string) (oci.Client, error) {
		repo, err := r.repositoryFor(ctx, ns, url, true)
		if err != nil || repo == nil {
			return oci.Client{}, err
		}
		c, err := helmrepository.OCIClient(ctx, r.Client, repo)
		if err != nil {
			return c, fmt.Errorf("dependency repository '%s': HelmRepository '%s': %w", url, repo.Name, err)
		}
		return c, nil
	}
}

// repositoryFor returns the HelmRepository of namespace ns (of type oci
// or not) whose URL is url, trailing slashes aside, or nil.
func (r *Reconciler) repositoryFor(ctx context.Context, ns, url string, ociType bool) (*sourcev1.HelmRepository, error) {
	var list sourcev1.HelmRepositoryList
	if err := r.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing HelmRepositories: %w", err)
	}
	want := strings.TrimRight(url, "/")
	for i := range list.Items {
		repo := &list.Items[i]
		if helmrepository.IsOCI(repo.Spec) == ociType && strings.TrimRight(repo.Spec.URL, "/") == want {
			return repo, nil
		}
	}
	return nil, nil
}
