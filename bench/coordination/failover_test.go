package coordination

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pilotage/pilotage/bench/coordination/failoverapp/candidate"
)

// BenchmarkCrash: the leader dies without releasing; the sample is the
// time from its death to another candidate acting. Under pilotage run the
// supervisor sees the exit and revokes the dead replica's sessions; the
// others wait for a lease to end (or, client-go, for the Lease's duration
// to pass unrenewed).
func BenchmarkCrash(b *testing.B) {
	b.Run("pilotage-run-kill9", benchRunKill)
	b.Run("coord-no-revoke", benchCoordCrash)
	b.Run("etcd-election", benchEtcdCrash)
	b.Run("client-go", benchClientGoCrash)
}

// BenchmarkPause: the leader is paused (SIGSTOP), with no signal of a
// crash; the sample is the time to another candidate acting.
func BenchmarkPause(b *testing.B) {
	b.Run("pilotage-run-sigstop", benchRunStop)
}

// BenchmarkHandover: the leader steps down; the sample is the time to
// another candidate acting.
func BenchmarkHandover(b *testing.B) {
	b.Run("pilotage-run-resign", benchRunResign)
	b.Run("coord-resign", benchCoordResign)
	b.Run("etcd-election-resign", benchEtcdResign)
	b.Run("client-go-release", benchClientGoRelease)
}

// steadyLimit bounds waiting for the app to have a leader and a
// candidate after a sample: a killed replica's restart backs off up to 5s.
const steadyLimit = 20 * time.Second

// benchRunKill: kill -9 of the leading replica → the next "acting", as
// the benchmark's watch receives it.
func benchRunKill(b *testing.B) {
	a, err := sharedApp()
	if err != nil {
		b.Fatal(err)
	}
	reportSamples(b, collect(b, false, func(int) (sample, error) {
		leader, err := a.steady(steadyLimit)
		if err != nil {
			return sample{}, err
		}
		killed := time.Now()
		if err := signal(leader.pid, syscall.SIGKILL); err != nil {
			return sample{}, err
		}
		act, err := a.nextActing(leader.pid, 10*time.Second)
		return sample{d: act.at.Sub(killed)}, err
	}))
}

// benchRunStop: SIGSTOP of the leading replica → the next "acting"; then
// SIGCONT, after which the old leader must record that it learned from
// its leadership's context that it lost it (the extra figure: how long
// after SIGCONT the benchmark read that).
func benchRunStop(b *testing.B) {
	a, err := sharedApp()
	if err != nil {
		b.Fatal(err)
	}
	samples := collect(b, false, func(i int) (sample, error) {
		leader, err := a.steady(steadyLimit)
		if err != nil {
			return sample{}, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		rev, err := a.store.Revision(ctx)
		cancel()
		if err != nil {
			return sample{}, err
		}
		stopped := time.Now()
		if err := signal(leader.pid, syscall.SIGSTOP); err != nil {
			return sample{}, err
		}
		act, err := a.nextActing(leader.pid, 10*time.Second)
		if cerr := signal(leader.pid, syscall.SIGCONT); cerr != nil {
			return sample{}, cerr
		}
		resumed := time.Now()
		if err != nil {
			return sample{}, err
		}
		why, err := a.lostAfter(leader.pid, rev, 5*time.Second)
		if err != nil {
			return sample{}, err
		}
		if !strings.Contains(why, "not held") {
			return sample{}, fmt.Errorf("pid %d lost its leadership for an unexpected reason: %s", leader.pid, why)
		}
		if i == 0 {
			b.Logf("the paused leader, resumed, recorded: %s", why)
		}
		return sample{d: act.at.Sub(stopped), extra: time.Since(resumed)}, nil
	})
	reportSamples(b, samples)
	b.ReportMetric(ms(slices.Max(extras(samples))), "max-ms-to-learn-after-SIGCONT")
}

// benchRunResign: the benchmark asks the leader to resign (it writes the
// leader's pid to the key the candidates watch); the sample is the time
// from the leader's call to Resign (the wall-clock time it logs) to the
// next "acting" received. The time from the benchmark's request is
// reported too.
func benchRunResign(b *testing.B) {
	a, err := sharedApp()
	if err != nil {
		b.Fatal(err)
	}
	samples := collect(b, false, func(int) (sample, error) {
		leader, err := a.steady(steadyLimit)
		if err != nil {
			return sample{}, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		asked := time.Now()
		_, err = a.store.Put(ctx, candidate.ResignKey, []byte(strconv.Itoa(leader.pid)))
		cancel()
		if err != nil {
			return sample{}, err
		}
		act, err := a.nextActing(leader.pid, 10*time.Second)
		if err != nil {
			return sample{}, err
		}
		resigned, err := a.resignedAt(leader.pid, leader.token, 5*time.Second)
		if err != nil {
			return sample{}, err
		}
		// Wall clocks: the leader's and ours are the machine's.
		return sample{d: act.at.Round(0).Sub(resigned), extra: act.at.Sub(asked)}, nil
	})
	reportSamples(b, samples)
	fromRequest := extras(samples)
	slices.Sort(fromRequest)
	b.ReportMetric(ms(percentile(fromRequest, 50)), "p50-ms-from-request")
	b.ReportMetric(ms(percentile(fromRequest, 99)), "p99-ms-from-request")
}
