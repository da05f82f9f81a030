package rpc

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/pilotage/pilotage/codegen"
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
}

// A Pool spreads calls over the replicas of a component: one Conn per
// address, dialed on first need, redialed with backoff.
//
// Addresses are "unix:///path/to.sock" or "unix:/path/to.sock",
// "tcp://host:port" or "tcp:host:port" (the form the supervisor sends), a
// bare path (containing a '/', taken as a Unix socket) or a bare host:port
// (TCP).
type Pool struct {
	opts PoolOptions

	mu      sync.Mutex
	eps     []*endpoint
	byAddr  map[string]*endpoint
	next    int
	closed  bool
	changed chan struct{} // closed (and replaced) whenever a dial ends
}

type endpoint struct {
	addr    string
	conn    *Conn // nil until dialed, and after it dies
	dialing bool
	removed bool
	retryAt time.Time
	backoff time.Duration
	lastErr error
}

// NewPool returns an empty Pool; give it addresses with Update.
func NewPool(opts PoolOptions) *Pool {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 2 * time.Second
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 20 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(5*time.Second, opts.MinBackoff)
	}
	return &Pool{opts: opts, byAddr: map[string]*endpoint{}, changed: make(chan struct{})}
}

// Update sets the addresses calls go to. Connections to removed addresses
// take no new calls and close once their calls in flight have finished.
func (p *Pool) Update(addrs []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	eps := make([]*endpoint, 0, len(addrs))
	keep := make(map[string]*endpoint, len(addrs))
	for _, a := range addrs {
		if _, dup := keep[a]; dup {
			continue
		}
		ep := p.byAddr[a]
		if ep == nil {
			ep = &endpoint{addr: a}
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

// Close closes every connection; calls in flight fail.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, ep := range p.eps {
		if ep.conn != nil {
			ep.conn.Close()
			ep.conn = nil
		}
	}
	p.eps, p.byAddr = nil, map[string]*endpoint{}
	p.wakeLocked()
	return nil
}

func (p *Pool) wakeLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Call sends a call to one of the addresses, round robin. A call that was not
// delivered (codegen.ErrUnavailable) is tried on another address; if retry is
// set (the method is idempotent), so is one interrupted after it was sent
// (codegen.ErrInterrupted). At most maxAttempts tries are made. With no usable
// address, Call fails at once with an error wrapping codegen.ErrUnavailable.
func (p *Pool) Call(ctx context.Context, component string, method int, args []byte, retry bool) ([]byte, error) {
	var triedBuf [maxAttempts]*endpoint
	tried := triedBuf[:0]
	var lastErr error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		ep, c, again, err := p.pick(ctx, tried)
		if err != nil {
			if lastErr != nil && ctx.Err() == nil {
				return nil, lastErr
			}
			return nil, err
		}
		if again { // every other address failed too: give the failure a moment
			if err := sleep(ctx, time.Duration(attempt)*2*time.Millisecond); err != nil {
				return nil, err
			}
		}
		res, err := c.Call(ctx, component, method, args)
		if err == nil {
			return res, nil
		}
		kind := transportKind(err)
		if ctx.Err() != nil || kind == nil || (kind == codegen.ErrInterrupted && !retry) {
			return nil, err
		}
		lastErr = err
		tried = append(tried, ep)
	}
	return nil, lastErr
}

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
// tried (again reports that none was left). It starts dials for addresses
// without a connection, and waits for one only when nothing is ready.
func (p *Pool) pick(ctx context.Context, tried []*endpoint) (*endpoint, *Conn, bool, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, nil, false, unavailable("pool", errors.New("pool closed"))
		}
		if len(p.eps) == 0 {
			p.mu.Unlock()
			return nil, nil, false, unavailable("pool", errors.New("no addresses"))
		}
		now := time.Now()
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
				if c := p.usableLocked(ep, now); c != nil {
					p.mu.Unlock()
					return ep, c, pass == 1, nil
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
		if !dialing {
			p.mu.Unlock()
			if lastErr == nil {
				lastErr = errors.New("no usable address")
			}
			return nil, nil, false, unavailable("pool", lastErr)
		}
		wait := p.changed
		p.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, nil, false, ctx.Err()
		}
	}
}

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
