// Command failoverapp is the app the coordination benchmarks run under
// "pilotage run": replicas of candidate.Candidate campaign in one
// election, and the leader announces that it acts with a fenced write.
// The benchmark kills, pauses or asks the leader to resign, and times the
// next announcement.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/pilotage/pilotage"
	"github.com/pilotage/pilotage/bench/coordination/failoverapp/candidate"
)

func main() {
	if err := pilotage.Run(context.Background(), serve); err != nil {
		fmt.Fprintln(os.Stderr, "failoverapp:", err)
		os.Exit(1)
	}
}

// app is the main component; it only makes the candidates part of the app.
type app struct {
	pilotage.Implements[pilotage.Main]
	candidate pilotage.Ref[candidate.Candidate]
}

func serve(ctx context.Context, a *app) error {
	<-ctx.Done()
	return nil
}
