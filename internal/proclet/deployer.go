package proclet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/pilotage/pilotage/internal/coordinfo"
	"github.com/pilotage/pilotage/internal/envelope"
)

// How pilotage commands before the envelope protocol started an app's
// processes (LegacyEnvVar), and learnt its components by running it
// (legacyDescribeEnvVar); an app started either way is refused, rather
// than run as a whole local app that the older command did not ask for.
const (
	LegacyEnvVar         = "PILOTAGE_PROCLET"
	legacyDescribeEnvVar = "PILOTAGE_DESCRIBE"
)

// Connect returns the socket to the deployer named by $PILOTAGE_ENVELOPE,
// or ok=false when this process was not started by a deployer. It unsets
// the variable, so that programs the app starts do not take the socket
// for theirs.
func Connect() (conn net.Conn, ok bool, err error) {
	v := os.Getenv(envelope.EnvVar)
	os.Unsetenv(envelope.EnvVar)
	if v == "" {
		for _, legacy := range []string{LegacyEnvVar, legacyDescribeEnvVar} {
			if os.Getenv(legacy) != "" {
				return nil, true, fmt.Errorf("%w: this app was started by a pilotage command older than its github.com/pilotage/pilotage module ($%s is set, $%s is not): upgrade the pilotage command", envelope.ErrMismatch, legacy, envelope.EnvVar)
			}
		}
		return nil, false, nil
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, true, fmt.Errorf("bad $%s %q: want the number of an inherited file descriptor", envelope.EnvVar, v)
	}
	f := os.NewFile(uintptr(fd), "pilotage-envelope")
	if f == nil {
		return nil, true, fmt.Errorf("$%s: fd %d is not open", envelope.EnvVar, fd)
	}
	defer f.Close() // FileConn dups it
	c, err := net.FileConn(f)
	if err != nil {
		return nil, true, fmt.Errorf("$%s: fd %d: %w", envelope.EnvVar, fd, err)
	}
	return c, true, nil
}

// An event is what the deployer's side of the conversation tells Run: a
// Stop, or the end of the conversation (err: io.EOF when the deployer
// closed the socket, else a protocol error).
type event struct {
	stop bool
	err  error
}

// receive reads the deployer's messages after Init until the socket
// closes or a message is refused, and then reports why on events. It
// answers Ping itself and hands Routes to onRoutes, so neither waits for
// the reader of events: the answer shows that this process is alive and
// scheduling goroutines, whatever the app is doing, even once nobody
// reads events (during shutdown). events must have room for two events:
// a Stop (reported once) and the end.
func receive(conn *envelope.Conn, events chan<- event, onRoutes func(envelope.Routes)) {
	stopped := false
	for {
		m, err := conn.Receive()
		if err != nil {
			events <- event{err: err}
			return
		}
		switch m := m.(type) {
		case envelope.Ping:
			// A failed send ends the loop at the next read.
			_ = conn.Send(envelope.Pong{Seq: m.Seq})
		case envelope.Routes:
			onRoutes(m)
		case envelope.Drain:
			coordinfo.Drain()
		case envelope.Stop:
			if !stopped {
				stopped = true
				events <- event{stop: true}
			}
		default:
			events <- event{err: fmt.Errorf("unexpected %s message from the deployer", m.MessageType())}
			return
		}
	}
}

// endError is the error Run returns for the end of the conversation.
func endError(err error) error {
	if errors.Is(err, io.EOF) {
		return errors.New("the deployer went away (its socket closed)")
	}
	return err
}
