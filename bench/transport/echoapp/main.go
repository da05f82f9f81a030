// Command echoapp is the pilotage side of the cross-process transport
// benchmark (bench/transport/xbench): under pilotage run, its main
// component runs the load of $ECHOBENCH_PLAN against echo.Echo, a
// component in another process reached through the generated stubs and the
// runtime's pool, prints the results and returns.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"

	"github.com/pilotage/pilotage"
	"github.com/pilotage/pilotage/bench/transport/echoapp/echo"
	"github.com/pilotage/pilotage/bench/transport/loadgen"
)

func main() {
	if err := pilotage.Run(context.Background(), run); err != nil {
		fmt.Fprintln(os.Stderr, "echoapp:", err)
		os.Exit(1)
	}
}

// app is the main component: the benchmark's client.
type app struct {
	pilotage.Implements[pilotage.Main]
	echo pilotage.Ref[echo.Echo]
}

func run(ctx context.Context, a *app) error {
	plan, err := loadgen.PlanFromEnv()
	if err != nil {
		return err
	}
	if dir := os.Getenv("ECHOBENCH_CPUPROFILE"); dir != "" {
		stop, err := profileCPU(filepath.Join(dir, fmt.Sprintf("client-%d.prof", os.Getpid())))
		if err != nil {
			return err
		}
		defer stop()
	}
	e := a.echo.Get()
	call := func(ctx context.Context, _ int, payload []byte) ([]byte, error) { return e.Echo(ctx, payload) }
	results, err := loadgen.Run(ctx, plan, call, e.Mallocs)
	if err != nil {
		return err
	}
	return loadgen.Print(os.Stdout, results)
}

// profileCPU starts a CPU profile into path; stop ends it.
func profileCPU(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
