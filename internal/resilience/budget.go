package resilience

import (
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of a RetryBudget.
const (
	DefaultRetryRatio = 0.1 // a retry for every ten calls
	DefaultRetryFloor = 10  // retries a second allowed whatever the calls
	DefaultRetryBurst = 20  // retries saved up, at most
	retryTokenUnit    = 1000
)

// BudgetPolicy sizes a RetryBudget; a field of zero takes its default,
// Ratio is at most 1, and a negative Ratio means no budget: retries are
// bounded only by the transport's attempts per call.
type BudgetPolicy struct {
	Ratio float64 // retries allowed per call
	Floor float64 // retries allowed per second, whatever the calls
	Burst int     // retries saved up, at most
}

// A RetryBudget caps the retries of one caller to one component, as a
// token bucket: every call deposits Ratio of a token, every second
// deposits Floor tokens, the bucket holds at most Burst, and a retry takes
// one token. Over any interval of T seconds with N calls, retries are
// thus at most Burst + Ratio*N + Floor*T. Its methods are safe for
// concurrent use; Call, on every call's path, is one atomic operation.
type RetryBudget struct {
	ratio  int64 // milli-tokens a call deposits
	floor  float64
	burst  int64 // in milli-tokens
	tokens atomic.Int64

	mu     sync.Mutex
	filled time.Time // when the floor was last deposited
}

// NewRetryBudget returns a full budget of policy p, as of now; nil (which
// allows every retry) if p.Ratio is negative.
func NewRetryBudget(p BudgetPolicy, now time.Time) *RetryBudget {
	if p.Ratio < 0 {
		return nil
	}
	if p.Ratio == 0 {
		p.Ratio = DefaultRetryRatio
	}
	if p.Floor <= 0 {
		p.Floor = DefaultRetryFloor
	}
	if p.Burst <= 0 {
		p.Burst = DefaultRetryBurst
	}
	b := &RetryBudget{ratio: int64(min(p.Ratio, 1) * retryTokenUnit), floor: p.Floor, burst: int64(p.Burst) * retryTokenUnit, filled: now}
	b.tokens.Store(b.burst)
	return b
}

// Call deposits a call's share of a retry.
func (b *RetryBudget) Call() {
	if b != nil && b.tokens.Load() < b.burst { // may overshoot Burst by a few calls' share: harmless
		b.tokens.Add(b.ratio)
	}
}

// Retry takes a token for one retry at now, and reports whether there was
// one: if not, the caller must not retry.
func (b *RetryBudget) Retry(now time.Time) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	if d := now.Sub(b.filled); d > 0 {
		add := int64(d.Seconds() * b.floor * retryTokenUnit)
		if add > 0 {
			b.filled = now
			for {
				t := b.tokens.Load()
				if b.tokens.CompareAndSwap(t, min(t+add, max(t, b.burst))) {
					break
				}
			}
		}
	}
	b.mu.Unlock()
	for {
		t := b.tokens.Load()
		if t < retryTokenUnit {
			return false
		}
		if b.tokens.CompareAndSwap(t, t-retryTokenUnit) {
			return true
		}
	}
}
