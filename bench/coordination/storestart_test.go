package coordination

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkStoreStart: "pilotage run" of the failover app in a fresh state
// directory, once per sample (see collect). It reports the supervisor's
// own figures for its embedded store (from the supervisor's start to the
// store serving and its client connected, and the etcd server's start
// alone: the line "coordination store embedded at ..., ready in ..."),
// the time from exec to "pilotage status" showing the store (an upper
// bound: the status is polled), and the supervisor's resident memory once
// the app is ready, with the embedded store and, for comparison, with an
// external one (the benchmark's own etcd) instead.
func BenchmarkStoreStart(b *testing.B) {
	b.Run("embedded", func(b *testing.B) { benchStoreStart(b, false) })
	b.Run("external", func(b *testing.B) { benchStoreStart(b, true) })
}

func benchStoreStart(b *testing.B, external bool) {
	app, err := failoverBin()
	if err != nil {
		b.Fatal(err)
	}
	config, err := filepath.Abs("failoverapp/pilotage.toml")
	if err != nil {
		b.Fatal(err)
	}
	if external {
		srv, err := sharedEtcd()
		if err != nil {
			b.Fatal(err)
		}
		if config, err = externalConfig(config, srv.endpoint()); err != nil {
			b.Fatal(err)
		}
	}
	starts := collect(b, false, func(int) (storeStart, error) {
		sup, err := runSupervisor(config, app)
		if err != nil {
			return storeStart{}, err
		}
		defer sup.stop()
		var st storeStart
		if st.shown, err = sup.storeShown(30 * time.Second); err != nil {
			return storeStart{}, err
		}
		if _, err := sup.ready(30 * time.Second); err != nil {
			return storeStart{}, err
		}
		var ok bool
		st.ready, st.server, ok = readyIn(sup.out.String())
		if !ok && !external {
			return storeStart{}, fmt.Errorf("no \"ready in\" line in the supervisor's output:\n%s", sup.out.String())
		}
		if st.rssKB, err = rssKB(sup.cmd.Process.Pid); err != nil {
			return storeStart{}, err
		}
		return st, sup.stop()
	})
	var ready, server, shown []time.Duration
	rss := 0
	for _, st := range starts {
		ready, server, shown = append(ready, st.ready), append(server, st.server), append(shown, st.shown)
		rss = max(rss, st.rssKB)
	}
	if !external {
		report(b, ready)
		slices.Sort(server)
		b.ReportMetric(ms(percentile(server, 50)), "p50-ms-server-alone")
	} else {
		b.ReportMetric(0, "ns/op")
	}
	slices.Sort(shown)
	b.ReportMetric(ms(percentile(shown, 50)), "p50-ms-exec-to-status")
	b.ReportMetric(float64(rss)/1024, "max-RSS-MiB")
}

// A storeStart is what one start of the app showed.
type storeStart struct {
	ready, server time.Duration // the supervisor's figures (0 for an external store)
	shown         time.Duration // exec → the status names the store
	rssKB         int           // the supervisor's, once the app is ready
}

// storeShown polls the status until it names the store, up to limit,
// and returns how long after the exec that was.
func (s *supervisor) storeShown(limit time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(limit)
	for {
		if st, err := s.status(); err == nil && st.Coordination != nil {
			return time.Since(s.started), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no store in the status within %v; output:\n%s", limit, s.out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// externalConfig writes a copy of config that names endpoint as the
// app's store.
func externalConfig(config, endpoint string) (string, error) {
	data, err := os.ReadFile(config)
	if err != nil {
		return "", err
	}
	dir, err := binDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "external.toml")
	data = fmt.Appendf(data, "\n[coordination]\nendpoints = [%q]\n", endpoint)
	return path, os.WriteFile(path, data, 0o600)
}

// rssKB returns the resident memory of process pid in KiB.
func rssKB(pid int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
