package rpc

import (
	"sync"
	"time"
)

// workerIdle is how long a server goroutine with nothing to do waits for
// work before it exits.
const workerIdle = 5 * time.Second

// A task is work for a server goroutine: a call to run, or a connection's
// reading to carry on.
type task interface{ run() }

// A workerPool runs a server's tasks on goroutines it reuses, so a busy
// server does not start a goroutine (and grow its stack again) per
// request. It never queues: a task goes to an idle worker if one is
// waiting, else a new worker starts for it. So calls run as concurrently
// as with a goroutine each (no call waits behind another; cancellation is
// unchanged), and the workers number at most the tasks once running at the
// same time; those idle for workerIdle, or when the pool stops, exit.
//
// A connection's reader uses it to keep a call's latency low: having read
// a request, it hands the reading on to a worker and runs the handler
// itself, at once (see serverConn.read), so the request does not wait for
// a goroutine to be woken.
type workerPool struct {
	work     chan task // unbuffered: a send succeeds only to an idle worker
	stop     chan struct{}
	stopOnce sync.Once
}

func newWorkerPool() *workerPool {
	return &workerPool{work: make(chan task), stop: make(chan struct{})}
}

// start runs t on an idle worker, or a new one.
func (p *workerPool) start(t task) {
	select {
	case p.work <- t:
	default:
		go p.worker(t)
	}
}

// worker runs t, then whatever tasks come until it has been idle for
// workerIdle or the pool stops.
func (p *workerPool) worker(t task) {
	var idle *time.Timer
	for {
		t.run()
		if idle == nil {
			idle = time.NewTimer(workerIdle)
		} else {
			idle.Reset(workerIdle)
		}
		select {
		case t = <-p.work:
		case <-idle.C:
			return
		case <-p.stop:
			idle.Stop()
			return
		}
	}
}

// close makes idle workers exit; running tasks finish first.
func (p *workerPool) close() { p.stopOnce.Do(func() { close(p.stop) }) }
