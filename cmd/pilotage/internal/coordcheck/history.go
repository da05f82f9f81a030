package coordcheck

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// A Record is one line of a history: the invocation of an operation (Out
// is nil) or its result. A client's operations are numbered by Seq.
type Record struct {
	Client string  `json:"c"`
	Seq    int     `json:"s"`
	Time   int64   `json:"t"` // wall clock, Unix nanoseconds: shared by the processes of a machine
	In     *Input  `json:"in,omitempty"`
	Out    *Output `json:"out,omitempty"`
}

// An Input is what an operation of either model asks.
type Input struct {
	Op    string `json:"op"`              // see the Op constants
	Key   string `json:"key,omitempty"`   // KV: the key; locks: the lock's name
	Value string `json:"value,omitempty"` // put, cas, write: the value written
	Rev   int64  `json:"rev,omitempty"`   // cas: the revision expected
	Token uint64 `json:"token,omitempty"` // write, unlock: the token of the hold
}

// Operations of the models.
const (
	// KVModel.
	OpGet    = "get"
	OpPut    = "put"
	OpCAS    = "cas"
	OpDelete = "delete"

	// LockModel.
	OpLock        = "lock"
	OpTryLock     = "trylock"
	OpWrite       = "write" // a put fenced by the hold of Token
	OpRead        = "read"  // a get, not fenced, of what writes write
	OpUnlock      = "unlock"
	OpForceUnlock = "forceunlock"
	OpCampaign    = "campaign" // a Lock of an election
	OpResign      = "resign"   // an Unlock of an election
)

// An Output is what an operation returned.
type Output struct {
	// Unknown: the call failed without saying whether it took effect (a
	// timeout, a lost connection). The history gives it no return.
	Unknown bool `json:"unknown,omitempty"`
	// OK: a write took effect, a lock was granted, an unlock released, a
	// force-unlock took a lock from its holder. A get or read found the key.
	OK bool `json:"ok,omitempty"`
	// Refused says why a write, lock or unlock did not take effect:
	// "conflict" (cas), "locked" (trylock), "fenced", "notheld".
	Refused string `json:"refused,omitempty"`
	Value   string `json:"value,omitempty"` // get, read: the value found
	// Rev: get, the key's revision; put, cas, the write's; delete, the
	// store's after it; cas refused, the key's current revision (0: absent).
	Rev   int64  `json:"rev,omitempty"`
	Token uint64 `json:"token,omitempty"` // lock, trylock granted
	Err   string `json:"err,omitempty"`   // the error returned, for people
}

// A Recorder writes the records of a client's operations to a sink, an
// invocation before the operation is issued and its result after it
// returns. It is safe for concurrent use.
type Recorder struct {
	mu   sync.Mutex
	emit func(Record) error
	seqs map[string]int
	err  error
}

// NewRecorder returns a Recorder that hands every record to emit.
func NewRecorder(emit func(Record) error) *Recorder {
	return &Recorder{emit: emit, seqs: map[string]int{}}
}

// NewLineRecorder returns a Recorder that writes each record to w as one
// line of JSON, in one Write: a pipe or an O_APPEND file keeps every
// record whole even if the writer is killed.
func NewLineRecorder(w io.Writer) *Recorder {
	return NewRecorder(func(r Record) error {
		line, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode record: %w", err)
		}
		_, err = w.Write(append(line, '\n'))
		return err
	})
}

// Do records the invocation of in by client, runs op, and records its
// result. The invocation's time is taken before op starts, the result's
// after it returns.
func (r *Recorder) Do(client string, in Input, op func() Output) (Output, error) {
	r.mu.Lock()
	seq := r.seqs[client]
	r.seqs[client]++
	r.mu.Unlock()
	if err := r.put(Record{Client: client, Seq: seq, Time: time.Now().UnixNano(), In: &in}); err != nil {
		return Output{}, err
	}
	out := op()
	return out, r.put(Record{Client: client, Seq: seq, Time: time.Now().UnixNano(), Out: &out})
}

func (r *Recorder) put(rec Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if err := r.emit(rec); err != nil {
		r.err = fmt.Errorf("record: %w", err)
	}
	return r.err
}

// A Collector gathers records in memory; its Add is a Recorder's sink.
type Collector struct {
	mu      sync.Mutex
	records []Record
	returns int
}

// Add appends rec.
func (c *Collector) Add(rec Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, rec)
	if rec.Out != nil {
		c.returns++
	}
	return nil
}

// Returns is how many operations returned so far.
func (c *Collector) Returns() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.returns
}

// Records returns a copy of the records gathered so far.
func (c *Collector) Records() []Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Record(nil), c.records...)
}

// Stats count the operations of a history.
type Stats struct {
	Completed int // returned with a known result
	Pending   int // never returned (their client was killed), or returned Unknown
	Dropped   int // pending operations that change nothing a later operation can see: left out
}

func (s Stats) String() string {
	return fmt.Sprintf("%d completed, %d pending, %d of them left out", s.Completed, s.Pending, s.Dropped)
}

// Operations turns records into a porcupine history. An operation that
// never returned, or returned Unknown, gets no return (its Return is after
// every other event): it may have taken effect at any time after its call,
// or never. Such an operation is left out if model says it has no effect
// that a later operation could observe (a read, a grant of an unknown
// token): taking effect never is then always a valid explanation, so
// leaving it out changes nothing but the time the search takes.
func Operations(records []Record, model Checker) ([]porcupine.Operation, Stats) {
	type key struct {
		client string
		seq    int
	}
	calls := map[key]Record{}
	returns := map[key]Record{}
	var last int64
	clientIDs := map[string]int{} // porcupine's: 0, 1, ... in the order of the names
	for _, r := range records {
		k := key{r.Client, r.Seq}
		if r.Out == nil {
			calls[k] = r
			clientIDs[r.Client] = 0
		} else {
			returns[k] = r
		}
		last = max(last, r.Time)
	}
	clients := make([]string, 0, len(clientIDs))
	for c := range clientIDs {
		clients = append(clients, c)
	}
	sort.Strings(clients)
	for i, c := range clients {
		clientIDs[c] = i
	}
	var stats Stats
	var ops []porcupine.Operation
	for k, call := range calls {
		op := porcupine.Operation{ClientId: clientIDs[k.client], Input: *call.In, Call: call.Time, Metadata: k.client}
		ret, ok := returns[k]
		if ok && !ret.Out.Unknown {
			stats.Completed++
			op.Output, op.Return = *ret.Out, ret.Time
		} else {
			stats.Pending++
			if !model.Observable(*call.In) {
				stats.Dropped++
				continue
			}
			op.Output, op.Return = Output{Unknown: true}, pendingReturn(last)
		}
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].Call < ops[j].Call })
	return ops, stats
}

// pendingReturn is the return time of an operation that never returned:
// after every event of the history.
func pendingReturn(last int64) int64 {
	if last >= math.MaxInt64-1 {
		return math.MaxInt64
	}
	return last + 1
}

// A Checker is a model of this package.
type Checker interface {
	// Model is the porcupine model.
	Model() porcupine.Model
	// Observable tells whether an operation of input in that may have
	// taken effect can change what a later operation observes.
	Observable(in Input) bool
}
