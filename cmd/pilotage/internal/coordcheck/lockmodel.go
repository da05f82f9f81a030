package coordcheck

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// A LockModel is the sequential specification of coord's locks with
// fencing tokens, one lock name at a time (the history is partitioned by
// name), with one key per name that only writes fenced by a hold of that
// name write. Elections are the same: a Campaign is a Lock, a Resign an
// Unlock, a Leadership's fenced write a Lock's.
//
//   - a grant (Lock, or TryLock that succeeds) returns a token larger than
//     that of every earlier grant of the name; a TryLock may always find the
//     lock taken (the model does not know whether the last holder still
//     holds);
//   - a fenced write succeeds only if its token is that of the latest grant,
//     and that hold was not ended since by a successful Unlock or by a
//     ForceUnlock; it may always fail (a lock can be lost unseen: a session
//     lease expired, revoked by the deployer);
//   - a read returns the value of the last successful write;
//   - an Unlock succeeds only under the same condition as a fenced write,
//     and ends the hold; a ForceUnlock ends it whatever it returns (it found
//     the lock free or took it).
//
// What it catches: two holders acting at once (a write fenced by an older
// token accepted after a newer grant, or after the hold's Unlock or a
// ForceUnlock), tokens going back or repeating, a grant while the previous
// holder's writes still succeed, reads that miss or invent a write.
//
// What it cannot: a write accepted after its hold was lost unseen (lease
// expired or revoked) but before anyone else was granted the lock, since the
// history does not record the loss; whether a Lock waited when it had no
// need to (liveness, fairness); whether holders that never write overlap;
// and the token of a grant whose client was killed before it returned
// (dropped: it only constrains later grants, which the next known grant
// constrains anyway).
type LockModel struct{}

// lockState is the state of a LockModel: one lock and its key.
type lockState struct {
	latest uint64 // the token of the latest grant
	ended  bool   // the latest grant's hold ended
	found  bool   // the key was written
	value  string
}

// Observable implements Checker: only a write may change what a later
// operation sees; the rest only constrain what follows.
func (LockModel) Observable(in Input) bool { return in.Op == OpWrite }

// Model implements Checker.
func (m LockModel) Model() porcupine.Model {
	return porcupine.Model{
		Partition: partitionByKey,
		Init:      func() any { return lockState{} },
		Step: func(state, input, output any) (bool, any) {
			return m.step(state.(lockState), input.(Input), output.(Output))
		},
		DescribeOperation: func(input, output any) string { return describe(input.(Input), output.(Output)) },
		DescribeState: func(state any) string {
			st := state.(lockState)
			s := fmt.Sprintf("token %d", st.latest)
			if st.ended {
				s += " (ended)"
			}
			if st.found {
				s += fmt.Sprintf(", value %q", st.value)
			}
			return s
		},
	}
}

func (LockModel) step(st lockState, in Input, out Output) (bool, lockState) {
	holds := in.Token == st.latest && st.latest != 0 && !st.ended
	switch in.Op {
	case OpLock, OpTryLock, OpCampaign:
		switch {
		case out.OK:
			if out.Token <= st.latest {
				return false, st
			}
			st.latest, st.ended = out.Token, false
			return true, st
		case in.Op == OpTryLock && out.Refused == "locked":
			return true, st
		}
		return false, st
	case OpWrite:
		switch {
		case out.Unknown:
			if holds {
				st.found, st.value = true, in.Value
			}
			return true, st
		case out.OK:
			if !holds {
				return false, st
			}
			st.found, st.value = true, in.Value
			return true, st
		}
		return out.Refused != "", st
	case OpRead:
		if !out.OK {
			return !st.found, st
		}
		return st.found && st.value == out.Value, st
	case OpUnlock, OpResign:
		switch {
		case out.OK:
			if !holds {
				return false, st
			}
			st.ended = true
			return true, st
		}
		return out.Refused != "", st
	case OpForceUnlock:
		st.ended = true
		return true, st
	}
	return false, st
}
