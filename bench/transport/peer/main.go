// Command peer runs the peers of the cross-process transport benchmark
// (bench/transport/xbench), each as its own process on loopback:
//
//	peer grpc-server ADDR        a unary gRPC-Go echo (wrapperspb.BytesValue)
//	peer raw-server ADDR         the raw TCP floor: a plain read/write echo
//	peer grpc-load ADDR          the load of $ECHOBENCH_PLAN against a grpc-server
//	peer raw-load ADDR           the same against a raw-server, one connection per caller
//
// A server prints "listening ADDR" once it accepts connections; a load
// prints loadgen result lines.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/pilotage/pilotage/bench/transport/loadgen"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: peer grpc-server|raw-server|grpc-load|raw-load ADDR")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(1)
	}
}

func run(mode, addr string) error {
	switch mode {
	case "grpc-server":
		return serveGRPC(addr)
	case "raw-server":
		return serveRaw(addr)
	case "grpc-load", "raw-load":
		plan, err := loadgen.PlanFromEnv()
		if err != nil {
			return err
		}
		var results []loadgen.Result
		if mode == "grpc-load" {
			results, err = loadGRPC(addr, plan)
		} else {
			results, err = loadRaw(addr, plan)
		}
		if err != nil {
			return err
		}
		return loadgen.Print(os.Stdout, results)
	}
	return fmt.Errorf("unknown mode %q", mode)
}

var background = context.Background()
