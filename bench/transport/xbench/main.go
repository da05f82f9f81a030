// Command xbench is the cross-process transport benchmark: pilotage's
// transport on the user's path (an echo component in its own process under
// pilotage run, called through the generated stubs and the runtime's pool
// over a Unix socket, and over loopback TCP as between pods on Kubernetes)
// against gRPC-Go and the raw TCP floor, each a server
// process and a client process on loopback, with the same closed-loop
// callers and percentiles (package loadgen). Systems take turns within each
// round, in an order that rotates, and the machine's load is recorded.
//
//	cd bench && go run ./transport/xbench -rounds 8
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pilotage/pilotage/bench/transport/loadgen"
)

func main() {
	rounds := flag.Int("rounds", 8, "rounds; every system runs every case once per round")
	cases := flag.String("cases", "100x1,100x64,10240x1,10240x64,1048576x1,1048576x64", "cases, SIZExCALLERS")
	warmup := flag.Duration("warmup", 300*time.Millisecond, "unmeasured calls before each case")
	duration := flag.Duration("duration", time.Second, "measured window of each case")
	systems := flag.String("systems", "pilotage,pilotage-tcp,grpc,raw", "systems to compare, the first against the others; pilotage-tcp runs pilotage run -rpc tcp (replicas call each other over loopback TCP, as between pods); pilotage=PATH is the echo app built elsewhere (another commit, say)")
	flag.Parse()
	plan, err := loadgen.ParsePlan(*cases, *warmup, *duration)
	if err == nil {
		err = run(*rounds, plan, strings.Split(*systems, ","))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "xbench:", err)
		os.Exit(1)
	}
}

func run(rounds int, plan loadgen.Plan, systems []string) error {
	bins, err := buildAll()
	if err != nil {
		return err
	}
	defer os.RemoveAll(bins.dir)
	runs := map[string][][]loadgen.Result{} // system → round → case
	var loads []string
	for r := range rounds {
		for i := range systems {
			sys := systems[(r+i)%len(systems)]
			load := loadAvg()
			res, err := runSystem(bins, sys, plan)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, sys, err)
			}
			if len(res) != len(plan.Cases) {
				return fmt.Errorf("round %d, %s: %d results for %d cases", r+1, sys, len(res), len(plan.Cases))
			}
			runs[sys] = append(runs[sys], res)
			loads = append(loads, load)
			fmt.Fprintf(os.Stderr, "round %d %-8s done (load %s)\n", r+1, sys, load)
		}
	}
	report(os.Stdout, plan, systems, runs, loads)
	return nil
}

// loadAvg is the machine's 1-minute load average and its runnable tasks.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 4 {
		return "?"
	}
	return f[0] + " " + f[3]
}

// binaries are what the benchmark runs, built once.
type binaries struct {
	dir, pilotage, echoapp, peer string
}

func buildAll() (binaries, error) {
	dir, err := os.MkdirTemp("", "xbench-")
	if err != nil {
		return binaries{}, err
	}
	b := binaries{dir: dir, pilotage: os.Getenv("PILOTAGE_BIN"),
		echoapp: filepath.Join(dir, "echoapp"), peer: filepath.Join(dir, "peer")}
	if b.pilotage == "" {
		b.pilotage = filepath.Join(dir, "pilotage")
		if err := goBuild("../cmd/pilotage", b.pilotage); err != nil {
			return b, err
		}
	}
	for pkg, out := range map[string]string{"./transport/echoapp": b.echoapp, "./transport/peer": b.peer} {
		if err := goBuild(pkg, out); err != nil {
			return b, err
		}
	}
	return b, nil
}

func goBuild(pkg, out string) error {
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = pkg
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

func runSystem(b binaries, sys string, plan loadgen.Plan) ([]loadgen.Result, error) {
	if bin, ok := strings.CutPrefix(sys, "pilotage="); ok {
		return runPilotage(b, bin, "unix", plan)
	}
	switch sys {
	case "pilotage":
		return runPilotage(b, b.echoapp, "unix", plan)
	case "pilotage-tcp":
		return runPilotage(b, b.echoapp, "tcp", plan)
	case "grpc", "raw":
		return runPeer(b, sys, plan)
	}
	return nil, fmt.Errorf("unknown system %q", sys)
}

// runPilotage runs the echo app echoapp under pilotage run, its replicas
// calling each other over network (unix or tcp), until its main returns.
func runPilotage(b binaries, echoapp, network string, plan loadgen.Plan) ([]loadgen.Result, error) {
	state, err := os.MkdirTemp(b.dir, "state-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(state)
	cmd := exec.Command(b.pilotage, "run", "-c", "transport/echoapp/pilotage.toml", "-rpc", network, echoapp)
	cmd.Env = append(append(os.Environ(), plan.Environ()...), "PILOTAGE_STATE_DIR="+state)
	out, err := runTimed(cmd, plan)
	if err != nil {
		return nil, err
	}
	return loadgen.ReadResults(out)
}

// runPeer starts the system's server process, runs its load process and
// stops the server.
func runPeer(b binaries, sys string, plan loadgen.Plan) ([]loadgen.Result, error) {
	srv := exec.Command(b.peer, sys+"-server", "127.0.0.1:0")
	stdout, err := srv.StdoutPipe()
	if err != nil {
		return nil, err
	}
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return nil, err
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		return nil, fmt.Errorf("%s server: %q, %v", sys, line, err)
	}
	cmd := exec.Command(b.peer, sys+"-load", addr)
	cmd.Env = append(os.Environ(), plan.Environ()...)
	out, err := runTimed(cmd, plan)
	if err != nil {
		return nil, err
	}
	return loadgen.ReadResults(out)
}

// runTimed runs cmd with a bound derived from plan and returns its output.
func runTimed(cmd *exec.Cmd, plan loadgen.Plan) (string, error) {
	limit := 60*time.Second + time.Duration(len(plan.Cases))*3*(plan.Warmup+plan.Duration)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return out.String(), fmt.Errorf("%s: %w\n%s", cmd.Path, err, out.String())
		}
		return out.String(), nil
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		return out.String(), fmt.Errorf("%s: no end within %v\n%s", cmd.Path, limit, out.String())
	}
}
