package resilience

import (
	"sync/atomic"
	"time"
)

// Defaults of outlier ejection.
const (
	DefaultEjectAfter   = 5           // consecutive failures
	DefaultBaseEjection = time.Second // the first ejection's length; it doubles with each one after
	DefaultMaxEjection  = 30 * time.Second
)

// EjectionPolicy says when a replica is ejected, and for how long.
type EjectionPolicy struct {
	// After is how many consecutive failed calls eject a replica
	// (default DefaultEjectAfter; negative: never eject).
	After int
	// Base is the length of a first ejection (default DefaultBaseEjection);
	// each ejection that follows a failed probe doubles it, up to Max
	// (default DefaultMaxEjection). A replica healthy for Max starts again
	// from Base.
	Base, Max time.Duration
}

// WithDefaults returns p with the defaults of zero fields.
func (p EjectionPolicy) WithDefaults() EjectionPolicy {
	if p.After == 0 {
		p.After = DefaultEjectAfter
	}
	if p.Base <= 0 {
		p.Base = DefaultBaseEjection
	}
	if p.Max < p.Base {
		p.Max = max(DefaultMaxEjection, p.Base)
	}
	return p
}

// An Outlier is a client's record of one replica: healthy, ejected until
// some time, or probing (ejected, with one call admitted to see whether it
// recovered). Its methods but Clean must be called under its owner's lock
// (a Pool's); Clean may be called without it.
type Outlier struct {
	failures     int // consecutive, while healthy
	ejections    int // ejections so far in a row (a failed probe counts as one)
	ejected      bool
	until        time.Time // end of the ejection
	probing      bool      // the probe call is in flight
	healthySince time.Time
	clean        atomic.Bool // healthy with no failure since the last success
}

// NewOutlier returns the record of a replica not yet called: healthy.
func NewOutlier() *Outlier {
	o := &Outlier{}
	o.clean.Store(true)
	return o
}

// Clean reports whether the replica is healthy and its last call did not
// fail: then a successful call changes nothing and need not be reported.
func (o *Outlier) Clean() bool { return o.clean.Load() }

// Ejected reports whether the replica is ejected, and until when.
func (o *Outlier) Ejected() (bool, time.Time) { return o.ejected, o.until }

// Failures returns the consecutive failures of a healthy replica.
func (o *Outlier) Failures() int { return o.failures }

// Admit reports whether a call may go to the replica at now, and whether
// that call is its probe (which must be reported with probe set). An
// ejected replica admits one probe once its ejection is over, and nothing
// more until the probe is reported.
func (o *Outlier) Admit(now time.Time) (ok, probe bool) {
	switch {
	case !o.ejected:
		return true, false
	case o.probing || now.Before(o.until):
		return false, false
	}
	o.probing = true
	return true, true
}

// Ejecting reports whether the replica admits no call at now: ejected, and
// its ejection not over or its probe in flight.
func (o *Outlier) Ejecting(now time.Time) bool {
	return o.ejected && (o.probing || now.Before(o.until))
}

// Abandon releases the probe admitted last, which was not sent or whose
// outcome says nothing of the replica (the caller gave up): the next call
// may probe.
func (o *Outlier) Abandon() { o.probing = false }

// Report records the outcome of a call admitted at a time Admit said probe
// (a failure is a transport error, a timeout or a panic: see the
// transport), and reports whether the replica was ejected or readmitted.
// Calls admitted before an ejection that end during it change nothing:
// only the probe decides.
func (o *Outlier) Report(now time.Time, failed, probe bool, p EjectionPolicy) (changed bool) {
	if o.ejected {
		if !probe {
			return false
		}
		o.probing = false
		if failed {
			o.until = now.Add(ejection(p, o.ejections))
			o.ejections++
			return false
		}
		o.ejected, o.failures, o.healthySince = false, 0, now
		o.clean.Store(true)
		return true
	}
	if !failed {
		o.failures = 0
		o.clean.Store(true)
		return false
	}
	o.clean.Store(false)
	o.failures++
	if p.After < 0 || o.failures < p.After {
		return false
	}
	if !o.healthySince.IsZero() && now.Sub(o.healthySince) >= p.Max {
		o.ejections = 0 // healthy long enough: start again from Base
	}
	o.ejected, o.until = true, now.Add(ejection(p, o.ejections))
	o.ejections++
	return true
}

// ejection is the length of an ejection that follows n others in a row:
// Base doubled n times, at most Max.
func ejection(p EjectionPolicy, n int) time.Duration {
	d := p.Base
	for range n {
		if d >= p.Max/2 {
			return p.Max
		}
		d *= 2
	}
	return min(d, p.Max)
}
