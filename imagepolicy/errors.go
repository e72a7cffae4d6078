package imagepolicy

import (
	"errors"
	"fmt"
)

// ErrNoMatch is what a *NoMatchError is (errors.Is): no tag qualified for
// the policy.
var ErrNoMatch = errors.New("no tag qualifies for the image policy")

// NoMatchError says why a policy selected nothing.
type NoMatchError struct {
	// Policy is the policy's kind (Policy.Kind).
	Policy string
	// Tags is the number of tags given.
	Tags int
	// Candidates is the number left after the filter.
	Candidates int
	// Reason says why none qualified.
	Reason string
}

// Error implements error.
func (e *NoMatchError) Error() string {
	return fmt.Sprintf("%s policy selected no tag among %d (%d after filtering): %s", e.Policy, e.Tags, e.Candidates, e.Reason)
}

// Is reports whether target is ErrNoMatch.
func (e *NoMatchError) Is(target error) bool { return target == ErrNoMatch }
