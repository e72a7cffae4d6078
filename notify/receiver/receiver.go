package receiver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Type is a receiver type, named as in Flux's Receiver .spec.type.
type Type string

// The receiver types Flux supports.
const (
	// Generic accepts any request to the webhook path: the path is the
	// only secret.
	Generic Type = "generic"
	// GenericHMAC checks the X-Signature header, "<sha1|sha256|sha512>=<hex>",
	// an HMAC of the body keyed with the token.
	GenericHMAC Type = "generic-hmac"
	// GenericOIDC checks a bearer OIDC ID token against the configured
	// OIDCProviders, then their CEL validations over its claims.
	GenericOIDC Type = "generic-oidc"
	// GitHub checks X-Hub-Signature-256 (or X-Hub-Signature) and filters on
	// X-GitHub-Event. Gitea deliveries use this type too.
	GitHub Type = "github"
	// GitLab compares X-Gitlab-Token with the token and filters on
	// X-Gitlab-Event.
	GitLab Type = "gitlab"
	// Bitbucket checks X-Hub-Signature as Bitbucket Server and Bitbucket
	// Cloud send it, and filters on X-Event-Key.
	Bitbucket Type = "bitbucket"
	// Harbor compares the Authorization header with the token.
	Harbor Type = "harbor"
	// DockerHub accepts a Docker Hub push payload.
	DockerHub Type = "dockerhub"
	// Quay accepts a Quay repository push payload.
	Quay Type = "quay"
	// Nexus checks X-Nexus-Webhook-Signature, the hex HMAC-SHA1 of the body.
	Nexus Type = "nexus"
	// ACR accepts an Azure Container Registry payload.
	ACR Type = "acr"
	// GCR checks the Google-signed OIDC token of a Pub/Sub push
	// (audience, issuer, email, email_verified) and unwraps the message.
	GCR Type = "gcr"
	// CDEvents accepts a CDEvent and filters on the Ce-Type header.
	CDEvents Type = "cdevents"
)

// Types lists every receiver type, in the order of Flux's documentation.
func Types() []Type {
	return []Type{Generic, GenericHMAC, GenericOIDC, GitHub, GitLab, Bitbucket,
		Harbor, DockerHub, Quay, Nexus, ACR, GCR, CDEvents}
}

// WebhookPathPrefix is the path under which every receiver is served.
const WebhookPathPrefix = "/hook/"

// ReconcileRequestAnnotation is the annotation whose change asks a Flux
// controller to reconcile an object at once; receivers set it on the
// objects they match.
const ReconcileRequestAnnotation = "reconcile.fluxcd.io/requestedAt"

// DefaultOIDCAudience is the audience a generic-oidc provider expects when
// its Audience is empty, as in Flux.
const DefaultOIDCAudience = "notification-controller"

// WebhookPath returns the path Flux computes for a receiver and reports in
// its .status.webhookPath: "/hook/" followed by the hex SHA-256 of
// token+name+namespace. generic-oidc receivers have no token: pass "".
func WebhookPath(token, name, namespace string) string {
	sum := sha256.Sum256([]byte(token + name + namespace))
	return WebhookPathPrefix + hex.EncodeToString(sum[:])
}

// Receiver is the configuration of one webhook receiver: Flux's Receiver
// spec with its Secret's values resolved.
type Receiver struct {
	// Name and Namespace of the receiver; they salt the webhook path, and
	// Namespace is the default namespace of Resources.
	Name      string
	Namespace string
	// Type selects how requests are authenticated and parsed.
	Type Type
	// Token is the "token" value of the receiver's Secret: it salts the
	// webhook path and is the HMAC key or expected header value. Required
	// for every type but generic-oidc, which must leave it empty.
	Token string
	// Events, when not empty, lists the event types accepted (compared
	// case-insensitively) for the types that carry one: github, gitlab,
	// bitbucket and cdevents. Other types ignore it, as in Flux.
	Events []string
	// Resources are the objects to reconcile when a request is accepted.
	Resources []Resource
	// ResourceFilter is an optional CEL expression over res (the object),
	// req (the JSON body) and, for generic-oidc, claims; an object is
	// requested only when it and the resource's own Filter are true.
	ResourceFilter string
	// Suspend stops the receiver: requests get 503 Service Unavailable.
	Suspend bool
	// Email and Audience are the "email" and "audience" values of a gcr
	// receiver's Secret: the service account of the Pub/Sub push
	// subscription and the expected audience of its token. Both required
	// for gcr.
	Email    string
	Audience string
	// OIDCProviders are the issuers a generic-oidc receiver trusts; at
	// least one is required.
	OIDCProviders []OIDCProvider
}

// Resource references the objects a receiver asks to reconcile: one
// object by name, or, with Name "*", every object of the kind whose labels
// match MatchLabels.
type Resource struct {
	// APIVersion of the kind; when empty, Flux's default for its own kinds
	// (see DefaultAPIVersion).
	APIVersion string
	// Kind of the objects, such as GitRepository.
	Kind string
	// Name of the object, or "*" with MatchLabels.
	Name string
	// Namespace of the objects; the receiver's namespace when empty.
	Namespace string
	// MatchLabels select the objects when Name is "*"; required then.
	MatchLabels map[string]string
	// Filter is an optional CEL expression for this resource, evaluated
	// like the receiver's ResourceFilter; both must be true.
	Filter string
}

// OIDCProvider is an issuer a generic-oidc receiver trusts.
type OIDCProvider struct {
	// IssuerURL is the issuer ("iss" claim) and the base of its discovery
	// document (IssuerURL + "/.well-known/openid-configuration"). It must
	// start with http:// or https://.
	IssuerURL string
	// Audience is the expected "aud" claim; DefaultOIDCAudience when empty.
	Audience string
	// Variables are named CEL expressions over claims and the variables
	// before them, exposed to later expressions as vars.<name>.
	Variables []OIDCVariable
	// Validations are CEL boolean expressions over claims and vars; all
	// must be true. At least one is required: a valid signature alone does
	// not say who the caller is.
	Validations []OIDCValidation
}

// OIDCVariable is a named CEL expression of an OIDCProvider.
type OIDCVariable struct {
	// Name under which the value is exposed, as vars.<Name>.
	Name string
	// Expression computes the value.
	Expression string
}

// OIDCValidation is a CEL boolean expression of an OIDCProvider.
type OIDCValidation struct {
	// Expression must evaluate to true.
	Expression string
	// Message says what failed when it does not.
	Message string
}

// audience returns the provider's expected audience.
func (p OIDCProvider) audience() string {
	if p.Audience == "" {
		return DefaultOIDCAudience
	}
	return p.Audience
}

// WebhookPath returns the receiver's webhook path (see the function
// WebhookPath).
func (r *Receiver) WebhookPath() string {
	return WebhookPath(r.Token, r.Name, r.Namespace)
}

// DefaultAPIVersion returns the apiVersion Flux assumes for a resource of
// one of its kinds given without one, or "" for other kinds.
func DefaultAPIVersion(kind string) string {
	switch kind {
	case "Bucket", "HelmChart", "HelmRepository", "GitRepository", "OCIRepository":
		return "source.toolkit.fluxcd.io/v1"
	case "ImageRepository":
		return "image.toolkit.fluxcd.io/v1"
	case "ArtifactGenerator":
		return "source.extensions.fluxcd.io/v1beta1"
	}
	return ""
}

// Validate checks the configuration as Flux's CRD schema and controller
// do before a receiver becomes ready: known type, token presence, OIDC
// providers, and that every CEL expression compiles. Errors of CEL
// expressions wrap ErrInvalidExpression.
func (r *Receiver) Validate() error {
	known := false
	for _, t := range Types() {
		if r.Type == t {
			known = true
		}
	}
	if !known {
		return fmt.Errorf("receiver %s/%s: %w: %q", r.Namespace, r.Name, ErrUnsupportedType, r.Type)
	}
	if r.Type == GenericOIDC {
		if r.Token != "" {
			return fmt.Errorf("receiver %s/%s: generic-oidc receivers take no token", r.Namespace, r.Name)
		}
		if err := validateOIDCProviders(r.OIDCProviders); err != nil {
			return fmt.Errorf("receiver %s/%s: %w", r.Namespace, r.Name, err)
		}
	} else if r.Token == "" {
		return fmt.Errorf("receiver %s/%s: %w", r.Namespace, r.Name, ErrNoToken)
	}
	if r.Type == GCR {
		if r.Email == "" {
			return fmt.Errorf("receiver %s/%s: gcr receivers need the service account email", r.Namespace, r.Name)
		}
		if r.Audience == "" {
			return fmt.Errorf("receiver %s/%s: gcr receivers need the token audience", r.Namespace, r.Name)
		}
	}
	for i, res := range r.Resources {
		if res.Kind == "" {
			return fmt.Errorf("receiver %s/%s: resources[%d]: kind is required", r.Namespace, r.Name, i)
		}
		if res.Name == "" {
			return fmt.Errorf("receiver %s/%s: resources[%d]: name is required", r.Namespace, r.Name, i)
		}
	}
	withClaims := r.Type == GenericOIDC
	if r.ResourceFilter != "" {
		if _, err := compileFilter(r.ResourceFilter, withClaims); err != nil {
			return fmt.Errorf("receiver %s/%s: resourceFilter: %w", r.Namespace, r.Name, err)
		}
	}
	for i, res := range r.Resources {
		if res.Filter != "" {
			if _, err := compileFilter(res.Filter, withClaims); err != nil {
				return fmt.Errorf("receiver %s/%s: resources[%d].filter: %w", r.Namespace, r.Name, i, err)
			}
		}
	}
	return nil
}

// validateOIDCProviders checks providers as Flux's CRD schema does and
// compiles their expressions.
func validateOIDCProviders(providers []OIDCProvider) error {
	if len(providers) == 0 {
		return errors.New("generic-oidc receivers need at least one OIDC provider")
	}
	seen := map[string]bool{}
	for i, p := range providers {
		if !strings.HasPrefix(p.IssuerURL, "https://") && !strings.HasPrefix(p.IssuerURL, "http://") {
			return fmt.Errorf("oidcProviders[%d]: issuerURL %q must start with http:// or https://", i, p.IssuerURL)
		}
		if seen[p.IssuerURL] {
			return fmt.Errorf("oidcProviders[%d]: duplicate issuerURL %q", i, p.IssuerURL)
		}
		seen[p.IssuerURL] = true
		if len(p.Validations) == 0 {
			return fmt.Errorf("oidcProviders[%d] (issuerURL=%q): at least one validation is required", i, p.IssuerURL)
		}
		for j, v := range p.Variables {
			if v.Name == "" || v.Expression == "" {
				return fmt.Errorf("oidcProviders[%d] (issuerURL=%q): variables[%d]: name and expression are required", i, p.IssuerURL, j)
			}
		}
		for j, v := range p.Validations {
			if v.Expression == "" || v.Message == "" {
				return fmt.Errorf("oidcProviders[%d] (issuerURL=%q): validations[%d]: expression and message are required", i, p.IssuerURL, j)
			}
		}
		if _, err := compileClaims(p); err != nil {
			return fmt.Errorf("oidcProviders[%d] (issuerURL=%q): %w", i, p.IssuerURL, err)
		}
	}
	return nil
}

// Lookup finds the receiver a webhook path belongs to. Implementations
// must be safe for concurrent use.
type Lookup interface {
	// Receiver returns the receiver served at path (such as
	// "/hook/<hex>"). Its error wraps ErrNotFound when there is none, and
	// ErrUnavailable when the receiver exists but must not serve yet (not
	// ready).
	Receiver(ctx context.Context, path string) (*Receiver, error)
}

// LookupFunc adapts a function to Lookup.
type LookupFunc func(ctx context.Context, path string) (*Receiver, error)

// Receiver calls f.
func (f LookupFunc) Receiver(ctx context.Context, path string) (*Receiver, error) {
	return f(ctx, path)
}

// Receivers is a fixed Lookup over a list of receivers, each served at
// its WebhookPath. Paths are compared in constant time.
type Receivers []*Receiver

// Receiver returns the receiver served at path, or an error wrapping
// ErrNotFound.
func (rs Receivers) Receiver(_ context.Context, path string) (*Receiver, error) {
	var found *Receiver
	for _, r := range rs {
		if subtle.ConstantTimeCompare([]byte(r.WebhookPath()), []byte(path)) == 1 && found == nil {
			found = r
		}
	}
	if found == nil {
		return nil, ErrNotFound
	}
	return found, nil
}

// Object is the metadata of an object a receiver matched: what a resource
// filter sees as res, and what a RequestFunc annotates.
type Object struct {
	APIVersion  string
	Kind        string
	Namespace   string
	Name        string
	Labels      map[string]string
	Annotations map[string]string
}

// celValue returns the object as a resource filter sees it: the JSON form
// of a Kubernetes PartialObjectMetadata.
func (o Object) celValue() map[string]any {
	md := map[string]any{"name": o.Name}
	if o.Namespace != "" {
		md["namespace"] = o.Namespace
	}
	if len(o.Labels) > 0 {
		md["labels"] = stringMap(o.Labels)
	}
	if len(o.Annotations) > 0 {
		md["annotations"] = stringMap(o.Annotations)
	}
	return map[string]any{"apiVersion": o.APIVersion, "kind": o.Kind, "metadata": md}
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Resolver turns a resource reference into the objects it designates. The
// reference it gets is complete: APIVersion and Namespace are filled in.
// For Name "*" it lists the objects of the kind in the namespace whose
// labels match MatchLabels (none found is not an error); otherwise it gets
// the one object, and an object that does not exist is an error.
type Resolver interface {
	Resolve(ctx context.Context, ref Resource) ([]Object, error)
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc func(ctx context.Context, ref Resource) ([]Object, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(ctx context.Context, ref Resource) ([]Object, error) {
	return f(ctx, ref)
}

// RequestFunc is called once per accepted request with the objects the
// receiver matched (after resource filters), in the order of its
// Resources. It requests their reconciliation, typically by setting
// ReconcileRequestAnnotation to the current time. An error makes the
// response 500 Internal Server Error.
type RequestFunc func(ctx context.Context, r *Receiver, objects []Object) error
