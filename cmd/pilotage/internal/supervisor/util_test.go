package supervisor

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

func itoa(i int) string { return strconv.Itoa(i) }

// freeAddr returns a loopback address nothing listens on (for now).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func listenOn(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// lineIndex returns the index of the first output line from source whose
// text starts with text, or -1.
func lineIndex(out, source, text string) int { return lineIndexAfter(out, -1, source, text) }

// lineIndexAfter is lineIndex for the lines after line after.
func lineIndexAfter(out string, after int, source, text string) int {
	for i, line := range strings.Split(out, "\n") {
		if i <= after {
			continue
		}
		src, rest, ok := strings.Cut(line, " | ")
		if ok && strings.TrimSpace(src) == source && strings.HasPrefix(rest, text) {
			return i
		}
	}
	return -1
}

func hasLine(out, source, text string) bool { return lineIndex(out, source, text) >= 0 }
