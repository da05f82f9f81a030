package coordcheck

import (
	"fmt"
	"sort"
	"strings"

	"github.com/anishathalye/porcupine"
)

// A KVModel is the sequential specification of the key/value store of
// coord.Store (Get, Put, CompareAndSwap, Delete) on a handful of keys,
// with its revisions:
//
//   - a Get returns the value and the revision of the last write of the key,
//     or not found after a Delete;
//   - a Put, or a CompareAndSwap that succeeds, returns the revision of its
//     write, larger than every revision the store had before it (exactly one
//     more if Contiguous);
//   - a CompareAndSwap succeeds if and only if the key's revision is the one
//     it expects (0: the key is absent), and otherwise returns the current one;
//   - a Delete returns the store's revision after it: the revision of its
//     write if the key existed, the unchanged revision if not.
//
// The state is the whole store unless PerKey. Contiguous holds only where
// nothing but the history writes to the store: the in-memory store with
// no session starting or ending meanwhile. On etcd, sessions write keys of
// their own (each Connect registers one, each killed client's lease
// expiry deletes it), so revisions there have gaps.
//
// PerKey partitions the history by key, which keeps porcupine's search
// small on histories with many concurrent clients and killed ones. Each key
// is then checked alone: what it no longer checks is the order of writes
// to different keys, which is the one global revision order. CheckRevisions
// checks that part apart: revisions are unique across keys, and ordered
// as the writes were in real time.
type KVModel struct {
	Keys       []string // at most maxKeys, all absent at the start
	Contiguous bool
	PerKey     bool
	// InitialRev is the store's revision before the history starts.
	InitialRev int64
}

// maxKeys bounds KVModel.Keys: the state is an array, so that porcupine
// can compare states with ==.
const maxKeys = 8

// kvState is the state of a KVModel.
type kvState struct {
	rev  int64 // the store's revision, or a lower bound of it
	keys [maxKeys]keyState
}

// keyState is one key of a kvState.
type keyState struct {
	found bool
	value string
	// rev is the key's revision if revKnown, else a lower bound of it: a
	// write whose result is unknown (its client was killed) took some
	// revision above the store's; the first result that names it tells it.
	rev      int64
	revKnown bool
}

// Observable implements Checker: a Get that may have happened changes
// nothing.
func (m KVModel) Observable(in Input) bool { return in.Op != OpGet }

// Model implements Checker.
func (m KVModel) Model() porcupine.Model {
	if len(m.Keys) > maxKeys {
		panic(fmt.Sprintf("coordcheck: KVModel of %d keys, over %d", len(m.Keys), maxKeys))
	}
	pm := porcupine.Model{
		Init: func() any { return kvState{rev: m.InitialRev} },
		Step: func(state, input, output any) (bool, any) {
			return m.step(state.(kvState), input.(Input), output.(Output))
		},
		DescribeOperation: func(input, output any) string { return describe(input.(Input), output.(Output)) },
		DescribeState:     func(state any) string { return m.describeState(state.(kvState)) },
	}
	if m.PerKey {
		pm.Partition = partitionByKey
	}
	return pm
}

func (m KVModel) index(key string) int {
	for i, k := range m.Keys {
		if k == key {
			return i
		}
	}
	return -1
}

func (m KVModel) step(st kvState, in Input, out Output) (bool, kvState) {
	i := m.index(in.Key)
	if i < 0 {
		return false, st
	}
	k := st.keys[i]
	// write applies a write of in.Value at revision rev, or at an unknown
	// one above the store's if rev is 0.
	write := func(rev int64) (bool, kvState) {
		switch {
		case rev == 0:
			st.rev++
			st.keys[i] = keyState{found: true, value: in.Value, rev: st.rev, revKnown: m.Contiguous}
			return true, st
		case !m.nextRev(st.rev, rev):
			return false, st
		}
		st.rev = rev
		st.keys[i] = keyState{found: true, value: in.Value, rev: rev, revKnown: true}
		return true, st
	}
	// learn records that the key's revision is rev, if it can be.
	learn := func(rev int64) (bool, kvState) {
		if k.revKnown {
			return rev == k.rev, st
		}
		if rev < k.rev {
			return false, st
		}
		st.keys[i].rev, st.keys[i].revKnown = rev, true
		st.rev = max(st.rev, rev)
		return true, st
	}
	// matches tells whether a CompareAndSwap expecting in.Rev may succeed.
	matches := func() bool {
		switch {
		case !k.found:
			return in.Rev == 0
		case k.revKnown:
			return in.Rev == k.rev
		}
		return in.Rev >= k.rev
	}
	switch in.Op {
	case OpGet:
		if !out.OK {
			return !k.found, st
		}
		if !k.found || k.value != out.Value {
			return false, st
		}
		return learn(out.Rev)
	case OpPut:
		if out.Unknown {
			return write(0)
		}
		if !out.OK {
			return false, st
		}
		return write(out.Rev)
	case OpCAS:
		switch {
		case out.Unknown:
			if matches() {
				return write(0)
			}
			return true, st
		case out.OK:
			if !matches() {
				return false, st
			}
			return write(out.Rev)
		case out.Refused == "conflict":
			if !k.found {
				return in.Rev != 0 && out.Rev == 0, st
			}
			if out.Rev == in.Rev {
				return false, st
			}
			return learn(out.Rev)
		}
		return false, st
	case OpDelete:
		switch {
		case out.Unknown:
			if k.found {
				st.rev++
				st.keys[i] = keyState{}
			}
			return true, st
		case !out.OK:
			return false, st
		case k.found:
			if !m.nextRev(st.rev, out.Rev) {
				return false, st
			}
			st.keys[i] = keyState{}
		case m.Contiguous && out.Rev != st.rev, out.Rev < st.rev:
			return false, st
		}
		st.rev = out.Rev
		return true, st
	}
	return false, st
}

// nextRev tells whether a write at rev may follow a store at revision cur.
func (m KVModel) nextRev(cur, rev int64) bool {
	if m.Contiguous {
		return rev == cur+1
	}
	return rev > cur
}

func (m KVModel) describeState(st kvState) string {
	var b strings.Builder
	fmt.Fprintf(&b, "rev %d", st.rev)
	for i, k := range m.Keys {
		s := st.keys[i]
		if !s.found {
			continue
		}
		rev := fmt.Sprint(s.rev)
		if !s.revKnown {
			rev = "≥" + rev
		}
		fmt.Fprintf(&b, ", %s=%q@%s", k, s.value, rev)
	}
	return b.String()
}

// describe is an operation as the visualization shows it.
func describe(in Input, out Output) string {
	var args []string
	if in.Key != "" {
		args = append(args, in.Key)
	}
	if in.Value != "" {
		args = append(args, fmt.Sprintf("%q", in.Value))
	}
	if in.Op == OpCAS {
		args = append(args, fmt.Sprintf("rev %d", in.Rev))
	}
	if in.Token != 0 {
		args = append(args, fmt.Sprintf("token %d", in.Token))
	}
	var res string
	switch {
	case out.Unknown:
		res = "unknown"
	case out.Refused != "":
		res = out.Refused
		if out.Rev != 0 {
			res += fmt.Sprintf(" (rev %d)", out.Rev)
		}
	case out.Token != 0:
		res = fmt.Sprintf("token %d", out.Token)
	case !out.OK:
		res = "not found / no"
	case out.Value != "":
		res = fmt.Sprintf("%q@%d", out.Value, out.Rev)
	case out.Rev != 0:
		res = fmt.Sprintf("rev %d", out.Rev)
	default:
		res = "ok"
	}
	return fmt.Sprintf("%s(%s) -> %s", in.Op, strings.Join(args, ", "), res)
}

// partitionByKey splits a history by Input.Key.
func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	var keys []string
	for _, op := range history {
		k := op.Input.(Input).Key
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], op)
	}
	sort.Strings(keys)
	parts := make([][]porcupine.Operation, len(keys))
	for i, k := range keys {
		parts[i] = byKey[k]
	}
	return parts
}

// CheckRevisions checks what partitioning a history by key does not: the
// store's revisions are one order of every write, of any key or lock.
// The completed writes of histories of one store (puts and swaps that
// succeeded, fenced writes that succeeded, and lock grants, whose token is
// the revision of the write of the lock's key, made between the call and
// the return) must have distinct revisions, and a write that returned
// before another was called must have the smaller one.
func CheckRevisions(histories ...[]porcupine.Operation) error {
	var writes []porcupine.Operation
	revOf := func(op porcupine.Operation) int64 {
		out := op.Output.(Output)
		if out.Token != 0 {
			return int64(out.Token)
		}
		return out.Rev
	}
	for _, h := range histories {
		for _, op := range h {
			in, out := op.Input.(Input), op.Output.(Output)
			if out.Unknown || !out.OK {
				continue
			}
			switch in.Op {
			case OpPut, OpCAS, OpWrite, OpLock, OpTryLock, OpCampaign:
				writes = append(writes, op)
			}
		}
	}
	sort.Slice(writes, func(i, j int) bool { return revOf(writes[i]) < revOf(writes[j]) })
	for i := 1; i < len(writes); i++ {
		if revOf(writes[i]) == revOf(writes[i-1]) {
			return fmt.Errorf("revision %d taken by two writes: %s [%s] and %s [%s]", revOf(writes[i]),
				describeOp(writes[i-1]), writes[i-1].Metadata, describeOp(writes[i]), writes[i].Metadata)
		}
	}
	// From the largest revision down: the earliest return among larger
	// revisions must not come before this write's call.
	var first *porcupine.Operation
	for i := len(writes) - 1; i >= 0; i-- {
		w := &writes[i]
		if first != nil && first.Return < w.Call {
			return fmt.Errorf("%s [%s] returned before %s [%s] was called, with a larger revision",
				describeOp(*first), first.Metadata, describeOp(*w), w.Metadata)
		}
		if first == nil || w.Return < first.Return {
			first = w
		}
	}
	return nil
}

func describeOp(op porcupine.Operation) string {
	return describe(op.Input.(Input), op.Output.(Output))
}
