// Command shmping measures the wake-up latency between two processes on
// one machine, to decide whether a shared-memory path would be worth
// building for pilotage run (issue 12): a 100-byte ping-pong between a
// parent and a child process over
//
//   - unix: a Unix socket, through Go's netpoller (what internal/rpc uses);
//   - futex: a ring slot in shared memory (a file in /dev/shm, mapped by
//     both), a futex wake per message and a futex wait on an OS thread of
//     its own;
//   - spin+futex: the same, spinning on the slot for up to 20 µs before
//     waiting (what low-latency rings do, at the cost of a busy core).
//
// Each round runs every mode for -duration; modes take turns.
//
//	cd bench && go run ./transport/shmping -rounds 5
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"time"
)

const payloadSize = 100

func main() {
	if mode := os.Getenv("SHMPING_CHILD"); mode != "" {
		if err := child(mode, os.Args[1]); err != nil {
			fmt.Fprintln(os.Stderr, "shmping child:", err)
			os.Exit(1)
		}
		return
	}
	rounds := flag.Int("rounds", 5, "rounds")
	duration := flag.Duration("duration", 2*time.Second, "per mode and round")
	flag.Parse()
	modes := []string{"unix", "futex", "spin+futex"}
	lat := map[string][]float64{}
	rate := map[string][]float64{}
	for r := range *rounds {
		for i := range modes {
			m := modes[(r+i)%len(modes)]
			p50, perSec, err := measure(m, *duration)
			if err != nil {
				fmt.Fprintln(os.Stderr, "shmping:", m, err)
				os.Exit(1)
			}
			lat[m] = append(lat[m], p50)
			rate[m] = append(rate[m], perSec)
		}
	}
	fmt.Printf("| mode | round trips/s median (range) | p50 µs median (range) |\n|---|---|---|\n")
	for _, m := range modes {
		fmt.Printf("| %s | %s | %s |\n", m, medianRange(rate[m], "%.0f"), medianRange(lat[m], "%.1f"))
	}
}

// measure runs one mode's ping-pong against a child process.
func measure(mode string, d time.Duration) (p50, perSec float64, err error) {
	dir, err := os.MkdirTemp(shmDir(), "shmping-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	var pinger func(func() bool) ([]time.Duration, error)
	var start func() error
	var cleanup func()
	switch mode {
	case "unix":
		pinger, start, cleanup, err = unixParent(dir)
	default:
		pinger, start, cleanup, err = shmParent(dir, mode == "spin+futex")
	}
	if err != nil {
		return 0, 0, err
	}
	defer cleanup()
	cmd := exec.Command(os.Args[0], dir)
	cmd.Env = append(os.Environ(), "SHMPING_CHILD="+mode)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer cmd.Wait()
	if err := start(); err != nil {
		cmd.Process.Kill()
		return 0, 0, err
	}
	t0 := time.Now()
	lats, err := pinger(func() bool { return time.Since(t0) < d })
	if err != nil {
		cmd.Process.Kill()
		return 0, 0, err
	}
	slices.Sort(lats)
	return float64(lats[len(lats)/2].Nanoseconds()) / 1e3, float64(len(lats)) / time.Since(t0).Seconds(), nil
}

func shmDir() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm"
	}
	return ""
}

func medianRange(v []float64, format string) string {
	s := slices.Clone(v)
	slices.Sort(s)
	return fmt.Sprintf(format+" ("+format+"–"+format+")", s[len(s)/2], s[0], s[len(s)-1])
}
