// Package coordination benchmarks leader failover: how long after the
// leader crashes, is paused or resigns another candidate acts. It compares
// pilotage's way (github.com/pilotage/pilotage/coord under "pilotage run",
// whose supervisor revokes a dead replica's sessions at once) with the
// same library without that revocation, etcd's concurrency.Election at its
// default session TTL and client-go's leaderelection at its default
// timings, all measured the same way, and times the embedded store's
// start. Every sample of a benchmark is one failover, 20 at least (more
// with -benchtime=50x, say), and the slow mechanisms take theirs in
// parallel (independent elections at once), so that the whole run takes
// about four minutes:
//
//	cd bench && go test -run '^$' -bench . ./coordination
//
// With -short, a benchmark takes b.N samples (one with -benchtime=1x) and
// the peers run with their timings cut down: a check of the harness, not a
// measurement. PILOTAGE_BIN names a built pilotage command to run the app
// with; without it, the benchmark builds one.
package coordination
