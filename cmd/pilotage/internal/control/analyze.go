package control

import "github.com/pilotage/pilotage/cmd/pilotage/internal/analyze"

// AnalyzeUnit is one entry of GET /v1/analyze: what "pilotage analyze"
// prints a critical chain or blame of.
type AnalyzeUnit = analyze.Unit
