// Package transport benchmarks pilotage's RPC transport against gRPC-Go on
// the same echo workload: the caller encodes a byte slice, the server decodes
// it and encodes it back, over one loopback TCP connection per framework.
//
//	cd bench && go test -bench Echo -benchtime=2s ./transport
package transport
