// Package candidate is a component whose every replica campaigns in the
// election ElectionName for as long as it runs. Once leader, a replica
// writes ActingKey ("<pid> <token>"), fenced by its leadership: that write
// is the moment it acts. It resigns when ResignKey is set to its pid
// (logging "resigning" with the wall-clock time just before), and
// when it learns it lost the leadership without resigning (its session
// was not renewed in time: the process was paused), it writes
// LostPrefix+"<pid>" with the cause, unfenced.
package candidate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/pilotage/pilotage"
	"github.com/pilotage/pilotage/coord"
)

// The keyspace of the benchmark, in the app's store.
const (
	ElectionName = "failover"
	ActingKey    = "acting"
	ResignKey    = "resign"
	LostPrefix   = "lost/"
)

// A Candidate campaigns; its one method says whether this replica leads.
type Candidate interface {
	Leading(ctx context.Context) (bool, error)
}

var _ pilotage.Idempotent = Candidate.Leading

type candidate struct {
	pilotage.Implements[Candidate]

	store *coord.Store
	pid   int
	stop  context.CancelFunc
	done  chan struct{}
	lead  chan *coord.Leadership // holds the current leadership, or nil
}

func (c *candidate) Init(ctx context.Context) error {
	store, err := coord.Open(ctx)
	if err != nil {
		return fmt.Errorf("candidate: %w", err)
	}
	c.store, c.pid = store, os.Getpid()
	c.lead = make(chan *coord.Leadership, 1)
	c.lead <- nil
	runCtx, stop := context.WithCancel(context.Background())
	c.stop, c.done = stop, make(chan struct{})
	go c.campaign(runCtx)
	return nil
}

func (c *candidate) Shutdown(ctx context.Context) error {
	c.stop()
	select {
	case <-c.done:
	case <-ctx.Done():
	}
	return c.store.Close() // resigns, if still leading
}

func (c *candidate) Leading(ctx context.Context) (bool, error) {
	l := <-c.lead
	c.lead <- l
	return l != nil && l.Context().Err() == nil, nil
}

// campaign leads whenever this replica wins, until ctx ends.
func (c *candidate) campaign(ctx context.Context) {
	defer close(c.done)
	logger := c.Logger(ctx)
	election := c.store.Election(ElectionName)
	me := strconv.Itoa(c.pid)
	for ctx.Err() == nil {
		lead, err := election.Campaign(ctx, me)
		if err != nil {
			if ctx.Err() == nil {
				logger.Error("campaign", "err", err)
				pause(ctx, 50*time.Millisecond)
			}
			continue
		}
		<-c.lead
		c.lead <- lead
		err = c.act(ctx, lead)
		<-c.lead
		c.lead <- nil
		if errors.Is(err, errResigned) {
			// The benchmark times the handover from this wall-clock time.
			logger.Info("resigning", "pid", c.pid, "token", lead.Token(), "at_unix_nano", time.Now().UnixNano())
		} else {
			logger.Info("no longer leading", "token", lead.Token(), "why", err)
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		if err := lead.Resign(rctx); err != nil && !errors.Is(err, coord.ErrNotHeld) {
			logger.Error("resign", "err", err)
		}
		cancel()
	}
}

// errResigned is why act returns when asked to resign.
var errResigned = errors.New("asked to resign")

// act announces the leadership, then waits until it is lost (and says so
// in the store), or this replica is asked to resign, or ctx ends.
func (c *candidate) act(ctx context.Context, lead *coord.Leadership) error {
	value := fmt.Appendf(nil, "%d %d", c.pid, lead.Token())
	rev, err := lead.Put(ctx, ActingKey, value)
	if err != nil {
		return err
	}
	c.Logger(ctx).Info("acting", "pid", c.pid, "token", lead.Token())
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(lead.Context(), cancel)
	defer stop()
	// Only a request made after this leadership began counts.
	for ev, err := range c.store.Watch(wctx, ResignKey, rev+1) {
		if err != nil {
			return err
		}
		if ev.Type == coord.Put && string(ev.Value) == strconv.Itoa(c.pid) {
			return errResigned
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	cause := context.Cause(lead.Context())
	if _, err := c.store.Put(context.WithoutCancel(ctx), LostPrefix+strconv.Itoa(c.pid), []byte(cause.Error())); err != nil {
		return errors.Join(cause, fmt.Errorf("record the loss: %w", err))
	}
	return cause
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}
