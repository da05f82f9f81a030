package coordcheck

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/pilotage/pilotage/coord"
)

// OpTimeout bounds each operation of the workloads; one that times out
// has an unknown result.
const OpTimeout = 3 * time.Second

// A Workload is one client's loop of random operations on a Store. It
// records each operation with Rec as Client, and stops, between two
// operations, once Stop returns true, or at the first error recording.
type Workload struct {
	Store  *coord.Store
	Rec    *Recorder
	Client string // its name in the history: unique to this loop
	Rand   *rand.Rand
	Stop   func() bool // RunKV and RunLocks only
}

// unknown is the Output of a call that failed without saying whether it
// took effect.
func unknown(err error) Output { return Output{Unknown: true, Err: err.Error()} }

// RunKV runs Gets, Puts, CompareAndSwaps (on the revision this client
// last saw of the key) and Deletes on keys, with values unique to the
// client's operation, for KVModel.
func (w Workload) RunKV(ctx context.Context, keys []string) error {
	seen := map[string]int64{} // the revision this client last saw of each key
	for n := 0; !w.Stop(); n++ {
		key := keys[w.Rand.IntN(len(keys))]
		value := fmt.Sprintf("%s.%d", w.Client, n)
		var err error
		switch r := w.Rand.IntN(100); {
		case r < 35:
			_, err = w.do(ctx, Input{Op: OpGet, Key: key}, func(ctx context.Context) Output {
				e, err := w.Store.Get(ctx, key)
				switch {
				case err == nil:
					seen[key] = e.Revision
					return Output{OK: true, Value: string(e.Value), Rev: e.Revision}
				case errors.Is(err, coord.ErrNotFound):
					seen[key] = 0
					return Output{}
				}
				return unknown(err)
			})
		case r < 60:
			_, err = w.do(ctx, Input{Op: OpPut, Key: key, Value: value}, func(ctx context.Context) Output {
				rev, err := w.Store.Put(ctx, key, []byte(value))
				if err != nil {
					return unknown(err)
				}
				seen[key] = rev
				return Output{OK: true, Rev: rev}
			})
		case r < 85:
			expect := seen[key]
			_, err = w.do(ctx, Input{Op: OpCAS, Key: key, Value: value, Rev: expect}, func(ctx context.Context) Output {
				rev, err := w.Store.CompareAndSwap(ctx, key, []byte(value), expect)
				var conflict *coord.ConflictError
				switch {
				case err == nil:
					seen[key] = rev
					return Output{OK: true, Rev: rev}
				case errors.As(err, &conflict):
					seen[key] = conflict.Current
					return Output{Refused: "conflict", Rev: conflict.Current, Err: err.Error()}
				}
				return unknown(err)
			})
		default:
			_, err = w.do(ctx, Input{Op: OpDelete, Key: key}, func(ctx context.Context) Output {
				rev, err := w.Store.Delete(ctx, key)
				if err != nil {
					return unknown(err)
				}
				seen[key] = 0
				return Output{OK: true, Rev: rev}
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// CounterKey is the key that writes fenced by lock (or election) name
// write.
func CounterKey(name string) string { return "fenced/" + name }

// ElectionPrefix starts the names that RunLocks takes as elections, not
// locks.
const ElectionPrefix = "e-"

// IsElection tells whether RunLocks takes name as an election.
func IsElection(name string) bool { return strings.HasPrefix(name, ElectionPrefix) }

// RunLocks takes holds of names: locks (with Lock, or TryLock a quarter of
// the time), or, for names starting with ElectionPrefix, leaderships
// (Campaign). It makes one to three writes fenced by each hold to the
// name's CounterKey, sometimes holding on for a few milliseconds so that
// pauses and kills catch holders, reads it, and releases the hold (Unlock,
// Resign), for LockModel. Between holds, it reads the key of a name it
// does not hold.
func (w Workload) RunLocks(ctx context.Context, names []string) error {
	n := 0
	for !w.Stop() {
		name := names[w.Rand.IntN(len(names))]
		h, out, err := w.acquire(ctx, name)
		if err != nil {
			return err
		}
		if !out.OK {
			if err := w.read(ctx, names[w.Rand.IntN(len(names))]); err != nil {
				return err
			}
			continue
		}
		token := out.Token
		for range 1 + w.Rand.IntN(3) {
			n++
			value := fmt.Sprintf("%s.%d.t%d", w.Client, n, token)
			_, err := w.do(ctx, Input{Op: OpWrite, Key: name, Value: value, Token: token}, func(ctx context.Context) Output {
				rev, err := h.put(ctx, CounterKey(name), []byte(value))
				switch {
				case err == nil:
					return Output{OK: true, Rev: rev}
				case errors.Is(err, coord.ErrFenced):
					return Output{Refused: "fenced", Err: err.Error()}
				case errors.Is(err, coord.ErrNotHeld):
					return Output{Refused: "notheld", Err: err.Error()}
				}
				return unknown(err)
			})
			if err != nil {
				return err
			}
			if w.Rand.IntN(4) == 0 {
				time.Sleep(time.Duration(w.Rand.IntN(10)) * time.Millisecond)
			}
		}
		if w.Rand.IntN(2) == 0 {
			if err := w.read(ctx, name); err != nil {
				return err
			}
		}
		op := OpUnlock
		if IsElection(name) {
			op = OpResign
		}
		_, err = w.do(ctx, Input{Op: op, Key: name, Token: token}, func(ctx context.Context) Output {
			switch err := h.release(ctx); {
			case err == nil:
				return Output{OK: true}
			case errors.Is(err, coord.ErrNotHeld):
				return Output{Refused: "notheld", Err: err.Error()}
			default:
				return unknown(err)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// A heldName is a *coord.Lock or a *coord.Leadership.
type heldName struct {
	put     func(ctx context.Context, key string, value []byte) (int64, error)
	release func(ctx context.Context) error
}

// acquire records and makes a Lock, TryLock or Campaign of name.
func (w Workload) acquire(ctx context.Context, name string) (heldName, Output, error) {
	var h heldName
	in := Input{Op: OpLock, Key: name}
	switch {
	case IsElection(name):
		in.Op = OpCampaign
	case w.Rand.IntN(4) == 0:
		in.Op = OpTryLock
	}
	out, err := w.do(ctx, in, func(ctx context.Context) Output {
		var token uint64
		var err error
		switch in.Op {
		case OpCampaign:
			var l *coord.Leadership
			if l, err = w.Store.Election(name).Campaign(ctx, w.Client); err == nil {
				h, token = heldName{put: l.Put, release: l.Resign}, l.Token()
			}
		default:
			lock := w.Store.Lock
			if in.Op == OpTryLock {
				lock = w.Store.TryLock
			}
			var l *coord.Lock
			if l, err = lock(ctx, name); err == nil {
				h, token = heldName{put: l.Put, release: l.Unlock}, l.Token()
			}
		}
		switch {
		case err == nil:
			return Output{OK: true, Token: token}
		case errors.Is(err, coord.ErrLocked):
			return Output{Refused: "locked", Err: err.Error()}
		}
		return unknown(err)
	})
	return h, out, err
}

// read reads the CounterKey of lock name, not fenced.
func (w Workload) read(ctx context.Context, name string) error {
	_, err := w.do(ctx, Input{Op: OpRead, Key: name}, func(ctx context.Context) Output {
		e, err := w.Store.Get(ctx, CounterKey(name))
		switch {
		case err == nil:
			return Output{OK: true, Value: string(e.Value), Rev: e.Revision}
		case errors.Is(err, coord.ErrNotFound):
			return Output{}
		}
		return unknown(err)
	})
	return err
}

// ForceUnlock takes lock name from its holder, as an operator would.
func (w Workload) ForceUnlock(ctx context.Context, name string) error {
	_, err := w.do(ctx, Input{Op: OpForceUnlock, Key: name}, func(ctx context.Context) Output {
		took, err := w.Store.ForceUnlock(ctx, name)
		if err != nil {
			return unknown(err)
		}
		return Output{OK: took}
	})
	return err
}

// do records in and runs op with a context bounded by OpTimeout.
func (w Workload) do(ctx context.Context, in Input, op func(ctx context.Context) Output) (Output, error) {
	ctx, cancel := context.WithTimeout(ctx, OpTimeout)
	defer cancel()
	return w.Rec.Do(w.Client, in, func() Output { return op(ctx) })
}
