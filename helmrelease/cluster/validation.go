package cluster

import (
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/openapi/cached"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/openapi"
	"k8s.io/kubectl/pkg/validation"
)

// FieldValidation remembers, per API server, the kinds whose fields the
// server validates itself (the fieldValidation query parameter), so that
// the Clients sharing it download and parse the server's OpenAPI
// documents for a kind once instead of on every install and upgrade.
// Only support is remembered: a kind not yet known as supported, such as
// one whose CRD was just applied, is looked up again, so validation stays
// what Helm does without the cache. Share one FieldValidation between the
// Clients of a controller (Options.FieldValidation); it is safe for
// concurrent use.
type FieldValidation struct {
	mu        sync.RWMutex
	supported map[string]map[schema.GroupVersionKind]bool
	// lookup serializes first lookups, so that concurrent actions wait
	// for one download instead of each making its own.
	lookup sync.Mutex
}

// NewFieldValidation returns an empty FieldValidation.
func NewFieldValidation() *FieldValidation {
	return &FieldValidation{supported: map[string]map[schema.GroupVersionKind]bool{}}
}

func (v *FieldValidation) known(server string, gvk schema.GroupVersionKind) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.supported[server][gvk]
}

func (v *FieldValidation) remember(server string, gvk schema.GroupVersionKind) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := v.supported[server]
	if m == nil {
		m = map[schema.GroupVersionKind]bool{}
		v.supported[server] = m
	}
	m[gvk] = true
}

// validatingFactory is kubectl's factory whose Validator asks v before
// querying the server's OpenAPI documents.
type validatingFactory struct {
	cmdutil.Factory
	v      *FieldValidation
	server string
}

// Validator builds the schema kubectl's factory builds (client-side
// validation only for kinds the server does not validate), with a
// verifier that consults the shared FieldValidation first.
func (f *validatingFactory) Validator(directive string) (validation.Schema, error) {
	if directive == metav1.FieldValidationIgnore {
		return validation.NullSchema{}, nil
	}
	dyn, err := f.DynamicClient()
	if err != nil {
		return nil, err
	}
	disco, err := f.ToDiscoveryClient()
	if err != nil {
		return nil, err
	}
	param := resource.QueryParamFieldValidation
	fresh := resource.NewFallbackQueryParamVerifier(
		resource.NewQueryParamVerifierV3(dyn, cached.NewClient(disco.OpenAPIV3()), param),
		resource.NewQueryParamVerifier(dyn, openapi.NewOpenAPIGetter(disco), param),
	)
	schema := validation.ConjunctiveSchema{validation.NewSchemaValidation(f.Factory), validation.NoDoubleKeySchema{}}
	return validation.NewParamVerifyingSchema(schema, &sharedVerifier{v: f.v, server: f.server, fresh: fresh}, directive), nil
}

// sharedVerifier answers from the FieldValidation, else from a verifier
// that reads the server's OpenAPI documents, and remembers support.
type sharedVerifier struct {
	v      *FieldValidation
	server string
	fresh  resource.Verifier
}

func (s *sharedVerifier) HasSupport(gvk schema.GroupVersionKind) error {
	if s.v.known(s.server, gvk) {
		return nil
	}
	s.v.lookup.Lock()
	defer s.v.lookup.Unlock()
	if s.v.known(s.server, gvk) {
		return nil
	}
	err := s.fresh.HasSupport(gvk)
	if err == nil {
		s.v.remember(s.server, gvk)
	}
	return err
}
