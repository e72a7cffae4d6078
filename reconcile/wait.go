package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/event"
	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/cli-utils/pkg/object"
)

// WaitOptions configures Wait. The zero value waits up to five minutes,
// polls at the Manager's PollInterval and returns as soon as an object
// reaches the Failed status.
type WaitOptions struct {
	// Timeout bounds the wait; 0 means five minutes.
	Timeout time.Duration
	// Interval is the poll interval; 0 means the Manager's PollInterval.
	// The first polls come sooner, so that objects that become ready
	// quickly are seen quickly: a tenth of a second apart, the gap doubling
	// every four polls until it reaches Interval.
	Interval time.Duration
	// NoFailFast keeps waiting for the other objects after one failed
	// (the wait still ends once every object is Current or Failed).
	NoFailFast bool
}

// UnhealthyObject is one object that did not become healthy.
type UnhealthyObject struct {
	Ref ObjectRef
	// Status is kstatus's status: InProgress, Failed, NotFound, Unknown, Terminating.
	Status string
	// Message says why, from kstatus or the CEL health expression.
	Message string
}

// HealthError is returned by Wait when objects are not healthy.
type HealthError struct {
	// TimedOut is true when the timeout elapsed, false when an object failed.
	TimedOut bool
	// Objects lists every object not Current, sorted by ID.
	Objects []UnhealthyObject
}

// Error names the objects that did not become healthy.
func (e *HealthError) Error() string {
	var b strings.Builder
	if e.TimedOut {
		fmt.Fprintf(&b, "health check timed out; %d object(s) not ready: ", len(e.Objects))
	} else {
		fmt.Fprintf(&b, "health check failed for %d object(s): ", len(e.Objects))
	}
	for i, o := range e.Objects {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s status %s", o.Ref, o.Status)
		if o.Message != "" {
			fmt.Fprintf(&b, ": %s", o.Message)
		}
	}
	return b.String()
}

// Wait polls the inventory's objects until all are Current according to
// kstatus (Deployments, StatefulSets, DaemonSets, PVCs, Services, CRDs,
// any object with standard conditions, Flux kinds), Flux's rule for Jobs
// (Current once complete, Failed with the Job's reason as soon as it has
// failed, in progress while it runs) or the CEL health
// expressions configured for their kind. Objects of kinds that kstatus
// finds Current as soon as they exist (ConfigMaps, Secrets,
// ServiceAccounts, RBAC roles and bindings, Services other than
// LoadBalancers, ...) and that this Manager applied in the last minute,
// and has not deleted since, are not read again: the apply saw them exist. It returns a *HealthError listing
// each unhealthy object and why when one fails (unless NoFailFast) or the
// timeout elapses, and ctx's error when ctx is cancelled.
func (m *Manager) Wait(ctx context.Context, inv Inventory, opts WaitOptions) error {
	all, err := inv.Refs()
	if err != nil {
		return err
	}
	now := time.Now()
	refs := make([]ObjectRef, 0, len(all))
	for _, r := range all {
		if !m.applied.fresh(r.ID(), now) {
			refs = append(refs, r)
		}
	}
	if len(refs) == 0 {
		return nil
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.Interval <= 0 {
		opts.Interval = m.opts.PollInterval
	}
	set, idx := refsToSet(refs)
	pctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	last := make(map[object.ObjMetadata]*event.ResourceStatus, len(set))
	var pollErr error
	done, stop := false, false
	for _, phase := range pollPhases(opts.Interval) {
		phctx, phcancel := pctx, context.CancelFunc(func() {})
		if phase.duration > 0 {
			phctx, phcancel = context.WithTimeout(pctx, phase.duration)
		}
		events := m.poller.Poll(phctx, set, polling.PollOptions{PollInterval: phase.interval})
		for ev := range events {
			switch ev.Type {
			case event.ErrorEvent:
				if phase.duration > 0 && pctx.Err() == nil {
					// Ending a phase fails the request in flight (client
					// rate limiters even fail one that would end after
					// the deadline); other errors also end the phase
					// early, and the last phase reports them.
					continue
				}
				pollErr, stop = ev.Error, true
				cancel()
			case event.ResourceUpdateEvent:
				if ev.Resource == nil {
					continue
				}
				last[ev.Resource.Identifier] = ev.Resource
				current, failed, terminal := 0, 0, true
				for _, id := range set {
					rs := last[id]
					switch {
					case rs == nil:
						terminal = false
					case rs.Status == status.CurrentStatus:
						current++
					case rs.Status == status.FailedStatus:
						failed++
					default:
						terminal = false
					}
				}
				if current == len(set) {
					done = true
					cancel()
				} else if (failed > 0 && !opts.NoFailFast) || terminal {
					stop = true
					cancel()
				}
			}
		}
		phcancel()
		if done || stop || pctx.Err() != nil {
			break
		}
	}
	if done {
		return nil
	}
	if err := ctx.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("waiting for %d object(s): %w", len(set), err)
	}
	// Client rate limiters fail requests that would end after the
	// deadline: near it, any polling error means the time is up.
	deadline, _ := pctx.Deadline()
	timedOut := errors.Is(pctx.Err(), context.DeadlineExceeded) || time.Until(deadline) < time.Second
	if pollErr != nil && !timedOut && !errors.Is(pollErr, context.Canceled) {
		return fmt.Errorf("waiting for %d object(s): %w", len(set), pollErr)
	}
	he := &HealthError{TimedOut: timedOut}
	for _, id := range set {
		rs := last[id]
		u := UnhealthyObject{Ref: idx[id], Status: string(status.UnknownStatus), Message: "no status observed"}
		if rs != nil {
			if rs.Status == status.CurrentStatus {
				continue
			}
			u.Status, u.Message = string(rs.Status), rs.Message
			if rs.Error != nil {
				u.Message = strings.TrimSpace(u.Message + " " + rs.Error.Error())
			}
		}
		he.Objects = append(he.Objects, u)
	}
	if he.TimedOut {
		// Some objects may have reached Failed before the deadline.
		for _, o := range he.Objects {
			if o.Status == string(status.FailedStatus) && !opts.NoFailFast {
				he.TimedOut = false
			}
		}
	}
	sort.Slice(he.Objects, func(i, j int) bool { return he.Objects[i].Ref.ID() < he.Objects[j].Ref.ID() })
	return he
}

// pollPhase is a stretch of a wait polled at one interval; a zero duration
// lasts until the wait ends.
type pollPhase struct {
	interval, duration time.Duration
}

// firstPollInterval is the gap between a wait's first polls.
const firstPollInterval = 100 * time.Millisecond

// pollPhases returns the phases of a wait polling at interval: four polls
// at firstPollInterval, four at twice that, and so on, then interval.
func pollPhases(interval time.Duration) []pollPhase {
	var out []pollPhase
	for d := firstPollInterval; d < interval; d *= 2 {
		out = append(out, pollPhase{interval: d, duration: 4 * d})
	}
	return append(out, pollPhase{interval: interval})
}
