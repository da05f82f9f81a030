package rpc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pilotage/pilotage/codegen"
)

// How a call went, to the outlier ejection of the replica it went to.
type outcome int

const (
	outcomeOK      outcome = iota
	outcomeFailed          // the transport failed, or the call timed out waiting for the replica
	outcomeNeutral         // says nothing of the replica: the caller gave up, or it shed the call
)

// outcomeOf classifies the result err of a call made with ctx. Only the
// transport and the clock tell a failing replica. A method's own errors
// travel in its results and never reach here; the handler errors that do
// (a panic, arguments it could not decode) follow from the request more
// often than from the replica, so they count as successes. A call that
// ran past its deadline counts against the replica even when it waited on
// a slow dependency of its own: it did not meet the deadline.
func outcomeOf(ctx context.Context, err error) outcome {
	switch {
	case err == nil:
		return outcomeOK
	case errors.Is(ctx.Err(), context.Canceled):
		return outcomeNeutral
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded):
		// Timed out: here, or at the server, which enforces the same
		// deadline and may answer first.
		return outcomeFailed
	case errors.Is(err, codegen.ErrOverloaded):
		return outcomeNeutral // alive, and shedding: its limiter protects it
	case transportKind(err) != nil:
		return outcomeFailed
	}
	return outcomeOK
}

// report records the outcome of a call that pick gave to ep.
func (p *Pool) report(ep *endpoint, probe bool, o outcome) {
	if o == outcomeOK && !probe && ep.health.Clean() {
		return // the common case: nothing to change, no lock
	}
	p.mu.Lock()
	var changed bool
	if o == outcomeNeutral {
		if probe {
			ep.health.Abandon()
		}
	} else {
		changed = ep.health.Report(time.Now(), o == outcomeFailed, probe, p.opts.Ejection)
	}
	if changed {
		p.wakeLocked() // a call waiting for an address may take another one now
	}
	p.mu.Unlock()
	if changed && p.opts.OnHealthChange != nil {
		go p.opts.OnHealthChange()
	}
}

// openLocked returns the error of a call at now while every address is
// ejected (the circuit is open), or nil.
func (p *Pool) openLocked(component string, now time.Time) error {
	var next time.Time
	for _, ep := range p.eps {
		if !ep.health.Ejecting(now) {
			return nil
		}
		if _, until := ep.health.Ejected(); next.IsZero() || until.Before(next) {
			next = until
		}
	}
	return &circuitError{component: component, replicas: len(p.eps), probe: next.Sub(now)}
}

// A circuitError is the error of a call to a component whose replicas are
// all ejected.
type circuitError struct {
	component string
	replicas  int
	probe     time.Duration // until the next probe may go; negative if one is in flight
}

func (e *circuitError) Error() string {
	when := "a probe is in flight"
	if e.probe > 0 {
		when = fmt.Sprintf("next probe in %s", e.probe.Round(time.Millisecond))
	}
	return fmt.Sprintf("component %s is unavailable: circuit open: its %d replicas kept failing or timing out, so this caller ejected them all (%s)",
		shortName(e.component), e.replicas, when)
}

func (e *circuitError) Unwrap() []error {
	return []error{codegen.ErrUnavailable, codegen.ErrCircuitOpen}
}

// Ejected is a replica a Pool ejected.
type Ejected struct {
	Addr  string
	Until time.Time // when it may be probed (past if a probe is due or in flight)
}

// Health is what a Pool's outlier ejection knows.
type Health struct {
	Ejected []Ejected
	// Open says every replica is ejected: calls fail at once.
	Open    bool
	Retries int64 // retries made, ever
}

// Health returns the pool's ejected replicas.
func (p *Pool) Health() Health {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := Health{Retries: p.retries.Load()}
	for _, ep := range p.eps {
		if ej, until := ep.health.Ejected(); ej {
			h.Ejected = append(h.Ejected, Ejected{Addr: ep.addr, Until: until})
		}
	}
	h.Open = len(h.Ejected) > 0 && len(h.Ejected) == len(p.eps)
	return h
}
