package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/pilotage/pilotage/bench/transport/loadgen"
)

// The raw floor's protocol: a 4-byte little-endian length, then that many
// bytes; the server writes the same back. Length statsRequest asks for the
// server's allocation count instead (8 bytes back).
const statsRequest = 0xFFFFFFFF

func serveRaw(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("listening", l.Addr())
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go echoRaw(c)
	}
}

// echoRaw echoes messages on c with one read loop and one write per
// message, into a buffer reused for the connection's life.
func echoRaw(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4, 64<<10)
	for {
		if _, err := io.ReadFull(c, buf[:4]); err != nil {
			return
		}
		n := binary.LittleEndian.Uint32(buf)
		if n == statsRequest {
			buf = binary.LittleEndian.AppendUint64(buf[:0], loadgen.Mallocs())
			if _, err := c.Write(buf); err != nil {
				return
			}
			continue
		}
		if cap(buf) < 4+int(n) {
			buf = make([]byte, 4, 4+int(n))
			binary.LittleEndian.PutUint32(buf, n)
		}
		buf = buf[:4+int(n)]
		if _, err := io.ReadFull(c, buf[4:]); err != nil {
			return
		}
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

// loadRaw runs plan with one connection per caller, each with its own
// reused buffers: the least a request/response over TCP can cost.
func loadRaw(addr string, plan loadgen.Plan) ([]loadgen.Result, error) {
	maxCallers := 0
	for _, c := range plan.Cases {
		maxCallers = max(maxCallers, c.Callers)
	}
	conns := make([]net.Conn, maxCallers+1) // the last one asks for stats
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		conns[i] = c
	}
	bufs := make([][]byte, maxCallers)
	call := func(_ context.Context, caller int, payload []byte) ([]byte, error) {
		c, buf := conns[caller], bufs[caller]
		if cap(buf) < 4+len(payload) {
			buf = make([]byte, 4+len(payload))
			bufs[caller] = buf
		}
		buf = buf[:4+len(payload)]
		binary.LittleEndian.PutUint32(buf, uint32(len(payload)))
		copy(buf[4:], payload)
		if _, err := c.Write(buf); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return nil, err
		}
		return buf[4:], nil
	}
	var statsMu sync.Mutex
	mallocs := func(context.Context) (uint64, error) {
		statsMu.Lock()
		defer statsMu.Unlock()
		c := conns[maxCallers]
		var b [8]byte
		binary.LittleEndian.PutUint32(b[:], statsRequest)
		if _, err := c.Write(b[:4]); err != nil {
			return 0, err
		}
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return 0, err
		}
		return binary.LittleEndian.Uint64(b[:]), nil
	}
	return loadgen.Run(background, plan, call, mallocs)
}
