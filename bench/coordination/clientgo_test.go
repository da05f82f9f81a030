package coordination

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

func init() {
	klog.SetLogger(logr.Discard()) // leaderelection logs every attempt
}

// clientGoTimings are leaderelection's usual defaults (the values
// kube-controller-manager and most operators use, and the package's
// documentation recommends); -short cuts them down 15 times.
type clientGoTimings struct{ lease, renew, retry time.Duration }

func clientGoDefaults() clientGoTimings {
	t := clientGoTimings{lease: 15 * time.Second, renew: 10 * time.Second, retry: 2 * time.Second}
	if testing.Short() {
		t = clientGoTimings{t.lease / 15, t.renew / 15, t.retry / 15}
	}
	return t
}

// clientGoSample takes one sample on a fresh Lease of three candidates
// (goroutines, each its own LeaderElector on the fake clientset): the
// leader acts (OnStartedLeading), then its context is cancelled; with
// release false it stops renewing without releasing the Lease, as a
// crash; with release true it releases it (ReleaseOnCancel), a graceful
// handover. The sample is the time from the cancel to another candidate's
// OnStartedLeading. It also returns how many candidates ever led.
func clientGoSample(cs kubernetes.Interface, name string, t clientGoTimings, wait time.Duration, release bool) (time.Duration, int32, error) {
	const candidates = 3
	ch := make(chan won, candidates)
	var leaders atomic.Int32
	cancels := make([]context.CancelFunc, candidates)
	defer func() {
		for _, c := range cancels {
			if c != nil {
				c()
			}
		}
	}()
	for i := range candidates {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: &resourcelock.LeaseLock{
				LeaseMeta:  metav1.ObjectMeta{Namespace: "default", Name: name},
				Client:     cs.CoordinationV1(),
				LockConfig: resourcelock.ResourceLockConfig{Identity: fmt.Sprint(i)},
			},
			LeaseDuration:   t.lease,
			RenewDeadline:   t.renew,
			RetryPeriod:     t.retry,
			ReleaseOnCancel: release,
			Name:            name,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(context.Context) {
					leaders.Add(1)
					ch <- won{i, time.Now()}
				},
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			return 0, 0, err
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		go le.Run(ctx)
	}
	first, err := next(ch, -1, t.lease+5*t.retry)
	if err != nil {
		return 0, 0, err
	}
	time.Sleep(settle + wait)
	left := time.Now()
	cancels[first.candidate]()
	w, err := next(ch, first.candidate, t.lease+10*t.retry)
	if err != nil {
		return 0, 0, err
	}
	return w.at.Sub(left), leaders.Load(), nil
}

func benchClientGo(b *testing.B, release bool) {
	cs := fake.NewClientset()
	t := clientGoDefaults()
	run := runID()
	var extra atomic.Int32
	wait := phase
	if release {
		wait = func(time.Duration) time.Duration { return 0 }
	}
	reportSamples(b, collect(b, true, func(i int) (sample, error) {
		d, leaders, err := clientGoSample(cs, fmt.Sprintf("bench-%s-%d", run, i), t, wait(t.retry), release)
		extra.Add(leaders - 2)
		return sample{d: d}, err
	}))
	if n := extra.Load(); n > 0 {
		b.Logf("%d samples had more than two leaders (the fake clientset does not check resource versions)", n)
	}
}

// benchClientGoCrash: the leader stops renewing without releasing the
// Lease (its context cancelled, ReleaseOnCancel false), as a crash: the
// others take it LeaseDuration after they last saw it renewed (it renews
// every RetryPeriod), at their next try (every RetryPeriod, jittered).
func benchClientGoCrash(b *testing.B) { benchClientGo(b, false) }

// benchClientGoRelease: the leader releases the Lease as it stops
// (ReleaseOnCancel): the others take it at their next try.
func benchClientGoRelease(b *testing.B) { benchClientGo(b, true) }
