package rpc

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/pilotage/pilotage/codegen"
	"github.com/pilotage/pilotage/internal/resilience"
)

// maxAttempts bounds the tries of one Pool.Call, the first included.
const maxAttempts = 3

// PoolOptions configure a Pool. The zero value is usable.
type PoolOptions struct {
	Dial DialOptions
	// DialTimeout bounds one connection attempt (default 2s).
	DialTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before redialing an address
	// whose last dial failed (defaults 20ms and 5s); the wait doubles per
	// failure, with jitter.
	MinBackoff, MaxBackoff time.Duration
	// MaxWait bounds how long a call waits for an address while the
	// component's outage is transient (Outage.Transient), when the call's
	// context has no earlier deadline (default DefaultMaxWait).
	MaxWait time.Duration
	// Ejection says when a replica that keeps failing is ejected from the
	// pool, and for how long (see resilience.EjectionPolicy; the zero
	// value takes its defaults). While every replica is ejected, calls fail
	// at once with an error wrapping codegen.ErrCircuitOpen.
	Ejection resilience.EjectionPolicy
	// RetryBudget caps the pool's retries (see resilience.BudgetPolicy;
	// the zero value takes its defaults).
	RetryBudget resilience.BudgetPolicy
	// OnHealthChange, if set, is called (on its own goroutine, which it
	// may block) whenever a replica is ejected or readmitted; Health tells
	// the new state.
	OnHealthChange func()
}

// DefaultMaxWait is the default of PoolOptions.MaxWait.
const DefaultMaxWait = 10 * time.Second

// redialGrace is the longest a call waits for the redial of an address
// whose last dial failed, when no address is usable.
const redialGrace = 250 * time.Millisecond

// An Outage says why a component has no address: callers' errors name the
// reason, and a transient outage (replicas are starting or restarting)
// makes calls wait for an address instead of failing at once.
type Outage struct {
	Reason    string // "stopped", "restarting: killed by signal killed", ...
	Transient bool
}

// A Pool spreads calls over the replicas of a component: one Conn per
// address, dialed on first need, redialed with backoff. It takes the
// addresses from a Resolver, and follows it as they change.
//
// Addresses are "unix:///path/to.sock" or "unix:/path/to.sock",
// "tcp://host:port" or "tcp:host:port" (the form the supervisor sends), a
// bare path (containing a '/', taken as a Unix socket) or a bare host:port
// (TCP).
type Pool struct {
	opts     PoolOptions
	stop     context.CancelFunc // ends follow
	followed chan struct{}      // closed when follow has returned

	mu      sync.Mutex
	eps     []*endpoint
	byAddr  map[string]*endpoint
	outage  Outage // why eps is empty
	next    int
	closed  bool
	changed chan struct{} // closed (and replaced) whenever a dial ends or the addresses change
	version uint64        // of the endpoints applied last; 0 before the first

	budget  *resilience.RetryBudget
	retries atomic.Int64 // retries made, ever
}

type endpoint struct {
	addr    string
	conn    *Conn // nil until dialed, and after it dies
	dialing bool
	removed bool
	retryAt time.Time
	backoff time.Duration
	lastErr error
	health  *resilience.Outlier
}

// NewPool returns a Pool that follows r: until r first resolves, calls wait
// for it as for a transient outage. Close stops following.
func NewPool(opts PoolOptions, r Resolver) *Pool {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 2 * time.Second
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 20 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(5*time.Second, opts.MinBackoff)
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultMaxWait
	}
	opts.Ejection = opts.Ejection.WithDefaults()
	ctx, stop := context.WithCancel(context.Background())
	p := &Pool{
		opts: opts, stop: stop, followed: make(chan struct{}),
		byAddr: map[string]*endpoint{}, changed: make(chan struct{}),
		outage: Outage{Reason: "its addresses are not known yet", Transient: true},
		budget: resilience.NewRetryBudget(opts.RetryBudget, time.Now()),
	}
	go p.follow(ctx, r)
	return p
}

// follow applies the endpoints r resolves until ctx ends. A failed Resolve
// is retried with backoff; the endpoints already applied stay in use.
func (p *Pool) follow(ctx context.Context, r Resolver) {
	defer close(p.followed)
	var version uint64
	var backoff time.Duration
	for {
		eps, err := r.Resolve(ctx, version)
		if ctx.Err() != nil {
			return
		}
		if err == nil && (eps.Version == 0 || eps.Version == version) {
			// A resolver breaking its contract must not make this spin.
			err = fmt.Errorf("the resolver answered version %d for a change from version %d", eps.Version, version)
		}
		if err != nil {
			p.mu.Lock()
			if p.version == 0 {
				p.outage = Outage{Reason: "resolve its addresses: " + err.Error(), Transient: true}
				p.wakeLocked()
			}
			p.mu.Unlock()
			backoff = min(max(2*backoff, p.opts.MinBackoff), p.opts.MaxBackoff)
			if sleep(ctx, backoff) != nil {
				return
			}
			continue
		}
		backoff = 0
		version = eps.Version
		p.route(eps)
	}
}

// route sets the addresses calls go to and, for when there are none, the
// outage callers are told of. Connections to removed addresses take no new
// calls and close once their calls in flight have finished.
func (p *Pool) route(e Endpoints) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.outage, p.version = e.Outage, e.Version
	addrs := e.Addrs
	eps := make([]*endpoint, 0, len(addrs))
	keep := make(map[string]*endpoint, len(addrs))
	for _, a := range addrs {
		if _, dup := keep[a]; dup {
			continue
		}
		ep := p.byAddr[a]
		if ep == nil {
			ep = &endpoint{addr: a, health: resilience.NewOutlier()}
		}
		keep[a] = ep
		eps = append(eps, ep)
	}
	for a, ep := range p.byAddr {
		if _, ok := keep[a]; !ok {
			ep.removed = true
			if ep.conn != nil {
				ep.conn.retire()
				ep.conn = nil
			}
		}
	}
	p.eps, p.byAddr = eps, keep
	p.wakeLocked() // waiters re-check the new set
}

// Close closes every connection (calls in flight fail) and stops following
// the Resolver, waiting for its Resolve to return.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	for _, ep := range p.eps {
		if ep.conn != nil {
			ep.conn.Close()
			ep.conn = nil
		}
	}
	p.eps, p.byAddr = nil, map[string]*endpoint{}
	p.wakeLocked()
	p.mu.Unlock()
	p.stop()
	<-p.followed
	return nil
}

func (p *Pool) wakeLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Call sends a call to one of the addresses, round robin, skipping those
// ejected (see PoolOptions.Ejection). A call that was not delivered
// (codegen.ErrUnavailable) is tried on another address; if retry is set
// (the method is idempotent), so is one interrupted after it was sent
// (codegen.ErrInterrupted). At most maxAttempts tries are made, and a retry
// only while the retry budget allows. With no address, Call fails with an
// error wrapping codegen.ErrUnavailable that names the component and the
// outage's reason: at once, or, if the outage is transient, once ctx or
// MaxWait has run out with still no address; with every address ejected,
// it fails at once with an error wrapping codegen.ErrCircuitOpen too.
func (p *Pool) Call(ctx context.Context, component string, method int, args []byte, retry bool) ([]byte, error) {
	return p.call(ctx, component, method, args, retry, time.Time{})
}

// CallWithin is Call with a default timeout: if ctx has no deadline, the
// call (its tries, and its wait for an address) ends within timeout with
// an error wrapping context.DeadlineExceeded, and the server is given
// that deadline, as if ctx had it; without a context of its own (see
// Conn.call). A timeout of 0 is none.
func (p *Pool) CallWithin(ctx context.Context, component string, method int, args []byte, retry bool, timeout time.Duration) ([]byte, error) {
	var by time.Time
	if _, ok := ctx.Deadline(); !ok && timeout > 0 {
		by = time.Now().Add(timeout)
	}
	return p.call(ctx, component, method, args, retry, by)
}

func (p *Pool) call(ctx context.Context, component string, method int, args []byte, retry bool, by time.Time) ([]byte, error) {
	var triedBuf [maxAttempts]*endpoint
	tried := triedBuf[:0]
	var lastErr error
	var waitUntil time.Time // set once the call first waits for an address
	p.budget.Call()
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			if !p.budget.Retry(time.Now()) {
				return nil, fmt.Errorf("%w (not retried: the retry budget of calls to %s is spent)", lastErr, shortName(component))
			}
			p.retries.Add(1)
		}
		ep, c, probe, again, err := p.pick(ctx, component, tried, &waitUntil, by)
		if err != nil {
			if lastErr != nil && ctx.Err() == nil {
				return nil, lastErr
			}
			return nil, err
		}
		if again { // every other address failed too: give the failure a moment
			if err := sleep(ctx, time.Duration(attempt)*2*time.Millisecond); err != nil {
				p.report(ep, probe, outcomeNeutral)
				return nil, err
			}
		}
		actx, retrySpan := ctx, trace.Span(nil)
		if attempt > 0 {
			actx, retrySpan = startRetrySpan(ctx, attempt, ep.addr, lastErr)
		}
		res, err := c.call(actx, component, method, args, by)
		p.report(ep, probe, outcomeOf(ctx, err))
		if retrySpan != nil {
			if err != nil {
				retrySpan.SetStatus(codes.Error, err.Error())
			}
			retrySpan.End()
		}
		if err == nil {
			return res, nil
		}
		kind := transportKind(err)
		if ctx.Err() != nil || kind == nil || (kind == codegen.ErrInterrupted && !retry) || !by.IsZero() && !time.Now().Before(by) {
			return nil, err
		}
		lastErr = err
		tried = append(tried, ep)
	}
	return nil, lastErr
}

// startRetrySpan starts, if the call's span records, the span of its
// retry number attempt (its try attempt+1), to addr after lastErr: a child of
// the call's client span, whose context the transport carries, so that
// the server span of the retry is its child and that of the failed try
// the call's. The first try makes no span of its own: calls not retried
// cost nothing more.
func startRetrySpan(ctx context.Context, attempt int, addr string, lastErr error) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, nil
	}
	return parent.TracerProvider().Tracer(tracerName).Start(ctx, "retry", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.Int("pilotage.attempt", attempt+1),
		attribute.String("server.address", addr),
		attribute.String("pilotage.retry_after", lastErr.Error()),
	))
}

// tracerName names the tracer of the spans the transport makes itself.
const tracerName = "github.com/pilotage/pilotage/internal/rpc"

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pick returns a live, non-draining connection, preferring addresses not in
// tried (again reports that none was left), and skipping ejected ones (probe
// reports that the call is the probe of one whose ejection is over). It
// starts dials for addresses without a connection, and waits for one only
// when nothing is ready, or, while there is no address and the outage is
// transient, until *waitUntil (set on the first such wait: MaxWait from
// then, or by if sooner, when it fails with context.DeadlineExceeded).
func (p *Pool) pick(ctx context.Context, component string, tried []*endpoint, waitUntil *time.Time, by time.Time) (ep *endpoint, c *Conn, probe, again bool, err error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, nil, false, false, &outageError{component: component, reason: "the caller is shutting down"}
		}
		if len(p.eps) == 0 {
			o, wait := p.outage, p.changed
			p.mu.Unlock()
			if !o.Transient {
				return nil, nil, false, false, &outageError{component: component, reason: o.Reason}
			}
			if waitUntil.IsZero() {
				*waitUntil = time.Now().Add(p.opts.MaxWait)
				if !by.IsZero() && by.Before(*waitUntil) {
					*waitUntil = by
				}
			}
			if err := waitChange(ctx, wait, *waitUntil); err != nil {
				switch {
				case ctx.Err() != nil:
					return nil, nil, false, false, err
				case !by.IsZero() && !time.Now().Before(by):
					return nil, nil, false, false, context.DeadlineExceeded
				}
				return nil, nil, false, false, &outageError{component: component, reason: o.Reason, waited: p.opts.MaxWait}
			}
			continue
		}
		now := time.Now()
		if err := p.openLocked(component, now); err != nil {
			p.mu.Unlock()
			return nil, nil, false, false, err
		}
		start := p.next
		p.next++
		var dialing bool
		var lastErr error
		for pass := 0; pass < 2; pass++ {
			for i := range p.eps {
				ep := p.eps[(start+i)%len(p.eps)]
				if pass == 0 && contains(tried, ep) {
					continue
				}
				ok, isProbe := ep.health.Admit(now)
				if !ok {
					continue
				}
				if c := p.usableLocked(ep, now); c != nil {
					p.mu.Unlock()
					return ep, c, isProbe, pass == 1, nil
				}
				if isProbe {
					ep.health.Abandon()
				}
				dialing = dialing || ep.dialing
				if ep.lastErr != nil {
					lastErr = ep.lastErr
				}
			}
			if dialing {
				break // wait for a dial rather than reuse a failed address
			}
		}
		wait := p.changed
		if !dialing {
			// Every address failed its last dial (a replica restarting at
			// the same address before the new routes arrive, say): wait for
			// a redial due soon, within the call's wait budget, rather than
			// fail at once. Addresses that keep failing back off past
			// redialGrace, and then calls fail at once.
			var retry time.Time
			for _, ep := range p.eps {
				if !ep.health.Ejecting(now) && (retry.IsZero() || ep.retryAt.Before(retry)) {
					retry = ep.retryAt // openLocked saw one not ejected
				}
			}
			p.mu.Unlock()
			if waitUntil.IsZero() {
				*waitUntil = now.Add(p.opts.MaxWait)
			}
			if lastErr == nil {
				lastErr = errors.New("no usable address")
			}
			if !retry.Before(*waitUntil) || retry.Sub(now) > redialGrace {
				return nil, nil, false, false, unavailable(shortName(component), lastErr)
			}
			if err := waitChange(ctx, wait, retry); err != nil && ctx.Err() != nil {
				return nil, nil, false, false, err
			}
			continue
		}
		p.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, nil, false, false, ctx.Err()
		}
	}
}

// waitChange waits until changed is closed, ctx ends (its error is
// returned) or until passes (errWaitOver).
func waitChange(ctx context.Context, changed <-chan struct{}, until time.Time) error {
	t := time.NewTimer(time.Until(until))
	defer t.Stop()
	select {
	case <-changed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errWaitOver
	}
}

var errWaitOver = errors.New("rpc: gave up waiting for an address")

// An outageError is the error of a call to a component that has no
// address: it names the component and why.
type outageError struct {
	component string
	reason    string
	waited    time.Duration // how long the call waited for an address, if it did
}

func (e *outageError) Error() string {
	msg := "component " + shortName(e.component) + " is unavailable"
	if e.reason != "" {
		msg += ": " + e.reason
	}
	if e.waited > 0 {
		msg += fmt.Sprintf(" (no replica came back within %s)", e.waited)
	}
	return msg
}

func (e *outageError) Unwrap() error { return codegen.ErrUnavailable }

// shortName turns "example.com/shop/cart.Cart" into "cart.Cart".
func shortName(full string) string { return full[strings.LastIndex(full, "/")+1:] }

func contains(eps []*endpoint, ep *endpoint) bool {
	for _, e := range eps {
		if e == ep {
			return true
		}
	}
	return false
}

// usableLocked returns ep's connection if it can take a call, dropping a
// dead or draining one and starting a dial when allowed.
func (p *Pool) usableLocked(ep *endpoint, now time.Time) *Conn {
	if c := ep.conn; c != nil {
		select {
		case <-c.Done():
			ep.conn = nil
			ep.retryAt = now.Add(p.opts.MinBackoff) // a crashing server must not be redialed in a loop
		default:
			if !c.Draining() {
				return c
			}
			c.retire()
			ep.conn = nil
		}
	}
	if !ep.dialing && !now.Before(ep.retryAt) {
		ep.dialing = true
		go p.dial(ep)
	}
	return nil
}

func (p *Pool) dial(ep *endpoint) {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.DialTimeout)
	network, address := splitAddr(ep.addr)
	c, err := Dial(ctx, network, address, p.opts.Dial)
	cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	ep.dialing = false
	switch {
	case err != nil:
		ep.backoff = min(max(2*ep.backoff, p.opts.MinBackoff), p.opts.MaxBackoff)
		jitter := time.Duration(rand.Int64N(int64(ep.backoff)/2 + 1))
		ep.retryAt = time.Now().Add(ep.backoff/2 + jitter)
		ep.lastErr = fmt.Errorf("dial %s: %w", ep.addr, err)
	case ep.removed || p.closed:
		c.Close()
	default:
		ep.conn, ep.backoff, ep.lastErr = c, 0, nil
	}
	p.wakeLocked()
}

// splitAddr turns a pool address into Dial's network and address.
func splitAddr(a string) (network, address string) {
	if n, rest, ok := strings.Cut(a, "://"); ok {
		return n, rest
	}
	// The form proclets and the supervisor exchange: "unix:/p", "tcp:h:p".
	for _, n := range []string{"unix", "tcp"} {
		if rest, ok := strings.CutPrefix(a, n+":"); ok {
			return n, rest
		}
	}
	if strings.Contains(a, "/") {
		return "unix", a
	}
	return "tcp", a
}
