// Package receiver serves webhook receivers as Flux's notification-controller
// does: Git hosts, registries and CI systems POST to
// /hook/<sha256(token+name+namespace)>, the request is authenticated the
// way its sender signs it, and the objects the receiver lists (filtered by
// CEL expressions over the request) are handed to a callback that asks
// their controllers to reconcile at once, typically by setting
// ReconcileRequestAnnotation.
//
// The package knows nothing of Kubernetes: a Lookup finds the Receiver a
// path belongs to, an optional Resolver turns resource references into
// object metadata, and a RequestFunc does the annotating. A controller
// computes the path with WebhookPath for .status.webhookPath and checks a
// spec with Receiver.Validate.
//
// Every receiver type of Flux is supported: generic, generic-hmac,
// generic-oidc, github (also Gitea), gitlab, bitbucket (Server and Cloud),
// harbor, dockerhub, quay, nexus, acr, gcr and cdevents. Tokens and
// signatures are compared in constant time (crypto/subtle, hmac.Equal),
// GitLab's and Harbor's tokens included, which Flux compares with !=.
// OIDC ID tokens (generic-oidc, gcr) are verified with the standard
// library against the key set named by the issuer's discovery document
// (RS256/384/512, PS256/384/512, ES256/384/512), with issuer, audience,
// expiry and not-before checks.
//
// Where this package differs from Flux, it is stricter:
//   - a token is required for every type but generic-oidc (Flux skips the
//     GitHub signature check when the token is empty);
//   - an X-Hub-Signature-256 header must carry a sha256 signature (Flux
//     takes the algorithm from the value whatever the header);
//   - cdevents payloads are checked for the structure every CDEvent has
//     (context id, source, type and timestamp, subject id) rather than
//     against the CDEvents JSON schemas;
//   - OIDC key sets are cached per issuer (KeySetTTL) instead of being
//     fetched for every request;
//   - resource filters also see the JSON payload of a form-encoded GitHub
//     or Bitbucket delivery, which Flux leaves empty.
package receiver
