// Command leaderapp is the end-to-end tests' app for coordination on a
// cluster. Every replica of Candidate campaigns in the election
// ElectionName; the leader takes the lock LockName, then writes LedgerKey
// every 50 ms, fenced by its leadership ({writer, token, seq, lock}: lock
// is the lock's token). The main component serves, on its listener
// "web":
//
//	GET /leader   the election's leader: {"value": pod, "token": n}
//	GET /ledger   the last write to LedgerKey, and the store's revision of it
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/pilotage/pilotage"
	"github.com/pilotage/pilotage/coord"
)

// The app's keyspace.
const (
	ElectionName = "e2e-leader"
	LockName     = "e2e-ledger"
	LedgerKey    = "ledger"
)

// A Candidate campaigns for as long as it runs.
type Candidate interface {
	// Leading says whether this replica leads, and its pod name.
	Leading(ctx context.Context) (bool, string, error)
}

var _ pilotage.Idempotent = Candidate.Leading

// Entry is what the leader writes to LedgerKey.
type Entry struct {
	Writer string `json:"writer"`
	Token  uint64 `json:"token"`
	Seq    int    `json:"seq"`
	Lock   uint64 `json:"lock"` // the token of the leader's lock LockName
}

type candidate struct {
	pilotage.Implements[Candidate]
	store *coord.Store
	name  string
	stop  context.CancelFunc
	done  chan struct{}
	lead  chan *coord.Leadership // holds the current leadership, or nil
}

func (c *candidate) Init(ctx context.Context) error {
	store, err := coord.Open(ctx)
	if err != nil {
		return fmt.Errorf("candidate: %w", err)
	}
	c.store = store
	c.name, _ = os.Hostname()
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
	return c.store.Close() // resigns, if leading
}

func (c *candidate) Leading(ctx context.Context) (bool, string, error) {
	l := <-c.lead
	c.lead <- l
	return l != nil && l.Context().Err() == nil, c.name, nil
}

// campaign leads whenever this replica wins, until ctx ends.
func (c *candidate) campaign(ctx context.Context) {
	defer close(c.done)
	logger := c.Logger(ctx)
	for ctx.Err() == nil {
		l, err := c.store.Election(ElectionName).Campaign(ctx, c.name)
		if err != nil {
			if ctx.Err() == nil {
				logger.Warn("campaign", "err", err)
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		<-c.lead
		c.lead <- l
		lock, err := c.store.Lock(l.Context(), LockName)
		if err != nil {
			if ctx.Err() == nil {
				logger.Warn("lock", "err", err)
				_ = l.Resign(context.Background())
			}
			continue
		}
		logger.Info("leading", "token", l.Token(), "lock", lock.Token())
		for seq := 1; l.Context().Err() == nil && ctx.Err() == nil; seq++ {
			b, _ := json.Marshal(Entry{Writer: c.name, Token: l.Token(), Seq: seq, Lock: lock.Token()})
			if _, err := l.Put(ctx, LedgerKey, b); err != nil && !errors.Is(err, coord.ErrFenced) && ctx.Err() == nil {
				logger.Warn("write", "err", err)
			}
			select {
			case <-time.After(50 * time.Millisecond):
			case <-l.Context().Done():
			case <-ctx.Done():
			}
		}
		unlock, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = lock.Unlock(unlock) // fails if the lock went with the session
		cancel()
		logger.Info("no longer leading", "token", l.Token())
	}
}

type app struct {
	pilotage.Implements[pilotage.Main]
	web        pilotage.Listener
	candidates pilotage.Ref[Candidate]
}

func main() {
	if err := pilotage.Run(context.Background(), serve); err != nil {
		fmt.Fprintln(os.Stderr, "leaderapp:", err)
		os.Exit(1)
	}
}

func serve(ctx context.Context, a *app) error {
	store, err := coord.Open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	_ = a.candidates // a Ref keeps the candidates' group started
	reply := func(w http.ResponseWriter, v any, err error) {
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/leader", func(w http.ResponseWriter, r *http.Request) {
		l, err := store.Election(ElectionName).Leader(r.Context())
		reply(w, map[string]any{"value": l.Value, "token": l.Token}, err)
	})
	mux.HandleFunc("/ledger", func(w http.ResponseWriter, r *http.Request) {
		e, err := store.Get(r.Context(), LedgerKey)
		var entry Entry
		if err == nil {
			err = json.Unmarshal(e.Value, &entry)
		}
		reply(w, map[string]any{"entry": entry, "revision": e.Revision}, err)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(a.web); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
