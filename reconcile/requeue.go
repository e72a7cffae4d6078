package reconcile

import (
	"math"
	"math/rand/v2"
	"time"
)

// RequeuePolicy decides when a controller runs a reconciliation again. The
// zero value requeues after 10 minutes on success and after the same 10
// minutes on failure, without jitter or backoff.
type RequeuePolicy struct {
	// Interval is the wait after a success (Flux's spec.interval).
	// Zero means 10 minutes.
	Interval time.Duration
	// RetryInterval is the wait after the first failure (Flux's
	// spec.retryInterval). Zero means Interval.
	RetryInterval time.Duration
	// MaxRetryInterval caps exponential backoff: with it set, the n-th
	// consecutive failure waits RetryInterval*2^(n-1), at most this much.
	// Zero disables backoff: every failure waits RetryInterval.
	MaxRetryInterval time.Duration
	// Jitter spreads requeues by up to this fraction of the wait, in both
	// directions (0.1 means ±10%). Zero means none; values are clamped to [0,1].
	Jitter float64
	// Rand returns a number in [0,1) for the jitter. Nil uses math/rand/v2.
	Rand func() float64
}

// After returns the wait before the next reconciliation, given how many
// consecutive attempts have failed (0 after a success).
func (p RequeuePolicy) After(failures int) time.Duration {
	interval := p.Interval
	if interval <= 0 {
		interval = 10 * time.Minute
	}
	d := interval
	if failures > 0 {
		d = p.RetryInterval
		if d <= 0 {
			d = interval
		}
		if p.MaxRetryInterval > 0 {
			exp := math.Pow(2, float64(min(failures-1, 62)))
			f := float64(d) * exp
			if f > float64(p.MaxRetryInterval) || math.IsInf(f, 0) {
				d = p.MaxRetryInterval
			} else {
				d = time.Duration(f)
			}
		}
	}
	j := min(max(p.Jitter, 0), 1)
	if j > 0 {
		r := p.Rand
		if r == nil {
			r = rand.Float64
		}
		// Scale by a factor in [1-j, 1+j).
		d = time.Duration(float64(d) * (1 - j + 2*j*r()))
	}
	return d
}
