package supervisor

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A replica started after the binary was rebuilt in place would run
// another build under the run's deployment id: it is refused, with what
// to do. A file touched but holding the same bytes is still run.
func TestBinaryReplacedDuringRun(t *testing.T) {
	t.Parallel()
	self, _ := os.Executable()
	bin := filepath.Join(t.TempDir(), "app")
	copyExecutable(t, self, bin)
	h := launch(t, Options{App: "test", Binary: bin, Description: desc("*main.Main:b.B", "b.B"),
		Config: mustConfig("[run]\nreplicas = 1\n")})
	h.waitReady()

	// Same bytes, newer time: the restarted replica runs.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(bin, later, later); err != nil {
		t.Fatal(err)
	}
	old := h.unit("b.B").Replicas[0].PID
	syscall.Kill(old, syscall.SIGKILL)
	h.eventually("b.B/0 replaced", func() bool {
		r := h.unit("b.B").Replicas[0]
		return r.PID != old && r.PID != 0 && r.State == "ready"
	})

	// Other bytes, renamed over it as "go build" does (a running binary
	// cannot be written to): refused.
	copyExecutable(t, self, bin+".new")
	f, err := os.OpenFile(bin+".new", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{0}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Rename(bin+".new", bin); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(h.unit("b.B").Replicas[0].PID, syscall.SIGKILL)
	h.eventually("b.B to fail", func() bool {
		return strings.Contains(h.unit("b.B").Why, "holds another build than the one this run started with")
	})
}

func copyExecutable(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
