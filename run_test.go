package pilotage_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run internal/testapp/loadapp (an HTTP front over testapp's
// Front and Calc, started by pilotage.Run) as a process of its own, in
// Local mode: no "pilotage run", no PILOTAGE_* variables.

// buildLoadApp builds loadapp once per test binary, into a directory of its
// own so that concurrent test binaries never share the file.
var buildLoadApp = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "pilotage-run-test-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "loadapp")
	if out, err := exec.Command("go", "build", "-o", bin, "./internal/testapp/loadapp").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build loadapp: %v\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := buildLoadApp(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// loadApp is a running loadapp whose stderr is collected line by line.
type loadApp struct {
	cmd    *exec.Cmd
	lines  chan string   // stderr, closed at EOF
	exited chan struct{} // closed once Wait returned
	err    error         // Wait's result, set before exited is closed

	mu     sync.Mutex
	stderr strings.Builder
}

// startLoadApp starts loadapp in dir with PILOTAGE_CONFIG set to config
// (unset if empty) and no other PILOTAGE_* variable. It is killed by PID if
// still running when the test ends.
func startLoadApp(t *testing.T, dir, config string) *loadApp {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a real application")
	}
	bin, err := buildLoadApp()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PILOTAGE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if config != "" {
		cmd.Env = append(cmd.Env, "PILOTAGE_CONFIG="+config)
	}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &loadApp{cmd: cmd, lines: make(chan string, 100), exited: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(a.lines)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			a.mu.Lock()
			a.stderr.WriteString(sc.Text() + "\n")
			a.mu.Unlock()
			select {
			case a.lines <- sc.Text():
			default: // nobody is waiting for lines any more
			}
		}
	}()
	go func() {
		<-done // Wait closes the pipe: read it all first
		a.err = cmd.Wait()
		close(a.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-a.exited:
		default:
			cmd.Process.Kill()
			<-a.exited
		}
	})
	return a
}

// output returns what the app wrote to stderr so far.
func (a *loadApp) output() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stderr.String()
}

// waitLine returns the submatches of the first stderr line matching re.
func (a *loadApp) waitLine(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-a.lines:
			if !ok {
				t.Fatalf("loadapp closed stderr before logging a line matching %q; stderr:\n%s", re, a.output())
			}
			if m := re.FindStringSubmatch(line); m != nil {
				return m
			}
		case <-timeout:
			t.Fatalf("no line matching %q within 10s; stderr:\n%s", re, a.output())
		}
	}
}

// wait waits for the process to exit and returns Wait's error.
func (a *loadApp) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-a.exited:
		return a.err
	case <-time.After(15 * time.Second):
		t.Fatalf("loadapp still running after 15s; stderr:\n%s", a.output())
		return nil
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// pilotage.Run in Local mode reads pilotage.toml from the working
// directory (here, the listener's address), starts Main and the components
// it reaches in one process, serves calls between them, and on SIGTERM
// cancels the app's context, shuts down and returns nil: the process exits
// with status 0.
func TestRunLocal(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	if err := os.WriteFile(filepath.Join(dir, "pilotage.toml"), fmt.Appendf(nil, "[listeners.http]\naddress = %q\n", addr), 0o644); err != nil {
		t.Fatal(err)
	}
	app := startLoadApp(t, dir, "")
	m := app.waitLine(t, regexp.MustCompile(`msg=listening listener=http address=(\S+)`))
	if m[1] != addr {
		t.Fatalf("listener http on %s; want %s from pilotage.toml in the working directory", m[1], addr)
	}
	if code, body := get(t, "http://"+addr+"/half?n=42"); code != http.StatusOK || body != "21" {
		t.Errorf("GET /half?n=42 = %d %q; want 200 \"21\"", code, body)
	}
	if code, body := get(t, "http://"+addr+"/half?n=3"); code != http.StatusInternalServerError || body != "half of 3: odd number" {
		t.Errorf("GET /half?n=3 = %d %q; want 500 with Calc's error", code, body)
	}
	if err := app.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := app.wait(t); err != nil {
		t.Fatalf("loadapp after SIGTERM: %v; want exit status 0; stderr:\n%s", err, app.output())
	}
}

// pilotage.Run reports a configuration problem, and starts nothing: a
// file that does not parse, or one that names a listener no component
// declares. The file named by PILOTAGE_CONFIG is the one read, though the
// working directory has a valid pilotage.toml; the message gives the file
// and the line.
func TestRunBrokenConfig(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"syntax", "[listeners.http\n", "table name"},
		{"unknown listener", "[listeners.htp]\naddress = \"127.0.0.1:0\"\n", "[listeners.htp] names no listener of this application"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "pilotage.toml"), []byte("[app]\nname = \"fine\"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			broken := filepath.Join(t.TempDir(), "broken.toml")
			if err := os.WriteFile(broken, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			app := startLoadApp(t, dir, broken)
			err := app.wait(t)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("loadapp with a broken config: %v; want exit status 1; stderr:\n%s", err, app.output())
			}
			out := app.output()
			for _, want := range []string{broken + ":", tc.want} {
				if !strings.Contains(out, want) {
					t.Errorf("stderr does not contain %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "listening") {
				t.Errorf("something started despite the broken config:\n%s", out)
			}
		})
	}
}
