// Package generate implements "pilotage generate": it type-checks the
// application's packages and writes, per package, one pilotage_gen.go file
// with component registration, stubs and codec functions.
package generate

import (
	_ "golang.org/x/tools/go/packages"
)
