package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// DefaultMaxBodyBytes is the largest request body the handler reads when
// HandlerOptions.MaxBodyBytes is zero: 3 MiB, as Flux's receiver server.
const DefaultMaxBodyBytes = 3 << 20

// Defaults of HandlerOptions.
const (
	// DefaultKeySetTTL is how long an issuer's key set is used before it
	// is fetched again.
	DefaultKeySetTTL = 15 * time.Minute
	// DefaultKeySetMinRefresh is the least time between two fetches of an
	// issuer's key set caused by tokens naming unknown keys.
	DefaultKeySetMinRefresh = time.Minute
	// DefaultHTTPTimeout bounds each request to an OIDC issuer when
	// HandlerOptions.HTTPClient is nil.
	DefaultHTTPTimeout = 10 * time.Second
)

// maxCachedExpressions bounds the handler's cache of compiled CEL
// expressions; it is emptied when full.
const maxCachedExpressions = 1024

// HandlerOptions configure a Handler. Lookup and Request are required;
// the zero value of every other field is a safe default.
type HandlerOptions struct {
	// Lookup resolves a webhook path to its receiver.
	Lookup Lookup
	// Request is called with the objects to reconcile.
	Request RequestFunc
	// Resolver turns resource references into objects. Without one, a
	// resource named explicitly becomes an Object with no labels nor
	// annotations, and a resource named "*" is an error (500).
	Resolver Resolver
	// MaxBodyBytes caps the request body; larger ones get 413 Request
	// Entity Too Large. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// NoCrossNamespaceRefs refuses resources in another namespace than the
	// receiver's (Flux's --no-cross-namespace-refs).
	NoCrossNamespaceRefs bool
	// HTTPClient fetches OIDC discovery documents and key sets (generic-oidc
	// and gcr). Nil means a client with DefaultHTTPTimeout over
	// http.DefaultTransport (TLS verified).
	HTTPClient *http.Client
	// GoogleIssuerURL is the issuer whose key set verifies gcr tokens.
	// Empty means GoogleIssuerURL; tests point it at a local issuer, whose
	// URL is then also accepted as "iss".
	GoogleIssuerURL string
	// KeySetTTL and KeySetMinRefresh tune the key set cache; zero means
	// DefaultKeySetTTL and DefaultKeySetMinRefresh.
	KeySetTTL        time.Duration
	KeySetMinRefresh time.Duration
	// Now returns the current time, for token expiry; nil means time.Now.
	Now func() time.Time
}

// Handler is an http.Handler serving receivers at
// /hook/<sha256(token+name+namespace)>, as Flux's notification-controller
// does. It is safe for concurrent use.
//
// Status codes are Flux's: 404 for an unknown path, 413 for a body over
// the cap, 503 for a suspended or unavailable receiver, 400 when the
// request does not verify (bad signature or token, event not accepted,
// malformed payload), 500 when a filter cannot be evaluated or a resource
// cannot be resolved or requested, 200 otherwise. Responses have no body.
// Errors are logged through the logr.Logger of the request's context,
// never with the token, a signature or the webhook path.
type Handler struct {
	lookup           Lookup
	request          RequestFunc
	resolver         Resolver
	maxBody          int64
	noCrossNamespace bool
	client           *http.Client
	googleIssuer     string
	keySetTTL        time.Duration
	keySetMinRefresh time.Duration
	now              func() time.Time

	keys keyCache

	exprMu sync.Mutex
	exprs  map[string]*celExpr
	claims map[string]*claimsProcessor
}

// NewHandler returns a Handler.
func NewHandler(opts HandlerOptions) (*Handler, error) {
	if opts.Lookup == nil {
		return nil, errors.New("receiver handler: Lookup is required")
	}
	if opts.Request == nil {
		return nil, errors.New("receiver handler: Request is required")
	}
	if opts.MaxBodyBytes < 0 {
		return nil, errors.New("receiver handler: MaxBodyBytes must not be negative")
	}
	h := &Handler{
		lookup:           opts.Lookup,
		request:          opts.Request,
		resolver:         opts.Resolver,
		maxBody:          opts.MaxBodyBytes,
		noCrossNamespace: opts.NoCrossNamespaceRefs,
		client:           opts.HTTPClient,
		googleIssuer:     opts.GoogleIssuerURL,
		keySetTTL:        opts.KeySetTTL,
		keySetMinRefresh: opts.KeySetMinRefresh,
		now:              opts.Now,
		exprs:            map[string]*celExpr{},
		claims:           map[string]*claimsProcessor{},
	}
	if h.maxBody == 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.client == nil {
		h.client = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if h.googleIssuer == "" {
		h.googleIssuer = GoogleIssuerURL
	}
	if h.keySetTTL <= 0 {
		h.keySetTTL = DefaultKeySetTTL
	}
	if h.keySetMinRefresh <= 0 {
		h.keySetMinRefresh = DefaultKeySetMinRefresh
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h, nil
}

// ServeHTTP handles one webhook request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	log := logr.FromContextOrDiscard(ctx)
	if !strings.HasPrefix(r.URL.Path, WebhookPathPrefix) {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	body, err := h.readBody(r)
	if err != nil {
		log.Error(err, "reading the webhook request body failed")
		if errors.Is(err, ErrTooLarge) {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		} else {
			w.WriteHeader(http.StatusBadRequest)
		}
		return
	}
	rcv, err := h.lookup.Receiver(ctx, r.URL.Path)
	switch {
	case errors.Is(err, ErrNotFound):
		w.WriteHeader(http.StatusNotFound)
		return
	case errors.Is(err, ErrUnavailable):
		log.Error(err, "webhook receiver unavailable")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case err != nil:
		log.Error(err, "looking up the webhook receiver failed")
		w.WriteHeader(http.StatusInternalServerError)
		return
	case rcv == nil:
		w.WriteHeader(http.StatusNotFound)
		return
	}
	log = log.WithValues("receiver", rcv.Namespace+"/"+rcv.Name, "type", string(rcv.Type))
	if rcv.Suspend {
		log.Error(ErrUnavailable, "receiver is suspended")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	v, err := h.Verify(ctx, rcv, r.Header, body)
	if err != nil {
		log.Error(err, "unable to validate payload")
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if v.Event != "" {
		log.V(1).Info("handling event", "event", v.Event)
	}
	objects, err := h.Match(ctx, rcv, v)
	if len(objects) > 0 {
		if rerr := h.request(ctx, rcv, objects); rerr != nil {
			err = errors.Join(err, fmt.Errorf("requesting reconciliation: %w", rerr))
		} else {
			log.Info("reconciliation requested", "objects", len(objects))
		}
	}
	if err != nil {
		log.Error(err, "unable to request reconciliation of every resource")
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// readBody reads the whole body, up to the cap.
func (h *Handler) readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > h.maxBody {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrTooLarge, h.maxBody)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, h.maxBody+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > h.maxBody {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrTooLarge, h.maxBody)
	}
	return b, nil
}

// Match returns the objects a verified request asks to reconcile: each of
// the receiver's resources resolved (by name, or by labels for "*"), kept
// when the receiver's ResourceFilter and the resource's Filter are both
// true. A resource that cannot be resolved or filtered is skipped and
// reported in the joined error, as Flux goes on with the others.
func (h *Handler) Match(ctx context.Context, rcv *Receiver, v *Verified) ([]Object, error) {
	withClaims := rcv.Type == GenericOIDC
	var top *celExpr
	var req map[string]any
	hasFilters := rcv.ResourceFilter != ""
	for _, res := range rcv.Resources {
		hasFilters = hasFilters || res.Filter != ""
	}
	if hasFilters {
		req = map[string]any{}
		if v != nil && v.Payload != nil {
			if err := json.Unmarshal(v.Payload, &req); err != nil {
				return nil, fmt.Errorf("%w: resource filters: the body is not a JSON object", ErrInvalidPayload)
			}
		}
		if rcv.ResourceFilter != "" {
			var err error
			if top, err = h.filter(rcv.ResourceFilter, withClaims); err != nil {
				return nil, fmt.Errorf("resourceFilter: %w", err)
			}
		}
	}
	vars := map[string]any{"req": req}
	if withClaims {
		claims := map[string]any{}
		if v != nil && v.Claims != nil {
			claims = v.Claims
		}
		vars["claims"] = claims
	}
	var matched []Object
	var errs []error
	for i, res := range rcv.Resources {
		objs, err := h.resolve(ctx, rcv, res)
		if err != nil {
			errs = append(errs, fmt.Errorf("resources[%d] (%s %s): %w", i, res.Kind, res.Name, err))
			continue
		}
		var own *celExpr
		if res.Filter != "" {
			if own, err = h.filter(res.Filter, withClaims); err != nil {
				errs = append(errs, fmt.Errorf("resources[%d].filter: %w", i, err))
				continue
			}
		}
		for _, o := range objs {
			ok, err := accept(ctx, vars, o, top, own)
			if err != nil {
				errs = append(errs, fmt.Errorf("resources[%d] (%s %s/%s): %w", i, o.Kind, o.Namespace, o.Name, err))
				break
			}
			if ok {
				matched = append(matched, o)
			}
		}
	}
	return matched, errors.Join(errs...)
}

// accept evaluates the filters that are set for one object.
func accept(ctx context.Context, vars map[string]any, o Object, filters ...*celExpr) (bool, error) {
	local := map[string]any{"res": o.celValue()}
	for k, v := range vars {
		local[k] = v
	}
	for _, f := range filters {
		if f == nil {
			continue
		}
		ok, err := f.evalBool(ctx, local)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// resolve completes a resource reference as Flux does and resolves it.
func (h *Handler) resolve(ctx context.Context, rcv *Receiver, res Resource) ([]Object, error) {
	ref := res
	if ref.Namespace == "" {
		ref.Namespace = rcv.Namespace
	} else if h.noCrossNamespace && ref.Namespace != rcv.Namespace {
		return nil, errors.New("cross-namespace references are not allowed")
	}
	if ref.APIVersion == "" {
		ref.APIVersion = DefaultAPIVersion(ref.Kind)
		if ref.APIVersion == "" {
			return nil, fmt.Errorf("apiVersion must be specified for kind %q", ref.Kind)
		}
	}
	if ref.Name == "*" {
		if ref.MatchLabels == nil {
			return nil, errors.New("matchLabels field not set when using wildcard '*' as name")
		}
		if h.resolver == nil {
			return nil, errors.New("no Resolver to list objects by labels")
		}
		return h.resolver.Resolve(ctx, ref)
	}
	if h.resolver == nil {
		return []Object{{APIVersion: ref.APIVersion, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name}}, nil
	}
	return h.resolver.Resolve(ctx, ref)
}

// filter returns a compiled resource filter, from the cache when it can.
func (h *Handler) filter(src string, withClaims bool) (*celExpr, error) {
	key := fmt.Sprint(withClaims, "\x00", src)
	h.exprMu.Lock()
	e := h.exprs[key]
	h.exprMu.Unlock()
	if e != nil {
		return e, nil
	}
	e, err := compileFilter(src, withClaims)
	if err != nil {
		return nil, err
	}
	h.exprMu.Lock()
	if len(h.exprs) >= maxCachedExpressions {
		clear(h.exprs)
	}
	h.exprs[key] = e
	h.exprMu.Unlock()
	return e, nil
}

// claimsProcessor returns a provider's compiled expressions, from the
// cache when it can.
func (h *Handler) claimsProcessor(p OIDCProvider) (*claimsProcessor, error) {
	b, _ := json.Marshal(struct {
		V []OIDCVariable
		C []OIDCValidation
	}{p.Variables, p.Validations})
	key := string(b)
	h.exprMu.Lock()
	cp := h.claims[key]
	h.exprMu.Unlock()
	if cp != nil {
		return cp, nil
	}
	cp, err := compileClaims(p)
	if err != nil {
		return nil, fmt.Errorf("OIDC provider for issuer %q: %w", p.IssuerURL, err)
	}
	h.exprMu.Lock()
	if len(h.claims) >= maxCachedExpressions {
		clear(h.claims)
	}
	h.claims[key] = cp
	h.exprMu.Unlock()
	return cp, nil
}
