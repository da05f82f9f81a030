// Command pilotage generates, runs and operates pilotage applications.
// Run "pilotage help" for the commands.
package main

import (
	"os"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
