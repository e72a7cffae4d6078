package receiver

import "errors"

// Sentinel errors; test with errors.Is. The handler maps them to Flux's
// status codes (in parentheses).
var (
	// ErrNotFound: no receiver is served at the path (404 Not Found).
	ErrNotFound = errors.New("no receiver for this path")
	// ErrUnavailable: the receiver exists but is suspended or not ready
	// (503 Service Unavailable).
	ErrUnavailable = errors.New("receiver unavailable")
	// ErrUnauthenticated: a signature, token or OIDC token does not check
	// out, or is missing (400 Bad Request, as in Flux).
	ErrUnauthenticated = errors.New("request not authenticated")
	// ErrEventNotAccepted: the event type is not in the receiver's Events
	// (400 Bad Request).
	ErrEventNotAccepted = errors.New("event type not accepted")
	// ErrInvalidPayload: the body or a header is not what the type expects
	// (400 Bad Request).
	ErrInvalidPayload = errors.New("invalid payload")
	// ErrTooLarge: the body exceeds the handler's MaxBodyBytes (413 Request
	// Entity Too Large).
	ErrTooLarge = errors.New("request body too large")
	// ErrUnsupportedType: the receiver's Type is not one of Types().
	ErrUnsupportedType = errors.New("unsupported receiver type")
	// ErrNoToken: the receiver needs a token and has none.
	ErrNoToken = errors.New("receiver has no token")
	// ErrInvalidExpression: a CEL expression of the receiver does not
	// compile; retrying cannot fix it.
	ErrInvalidExpression = errors.New("invalid CEL expression")
)
