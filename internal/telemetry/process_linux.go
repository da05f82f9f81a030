package telemetry

import (
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/pilotage/pilotage/internal/envelope"
)

// processMetrics reads this process's CPU time (getrusage) and resident
// memory (/proc/self/statm); a figure it cannot read is left zero.
func processMetrics() envelope.ProcessMetrics {
	var m envelope.ProcessMetrics
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		m.CPUSeconds = float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
	}
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if pages, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				m.RSSBytes = pages * uint64(os.Getpagesize())
			}
		}
	}
	return m
}
