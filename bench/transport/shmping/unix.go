package main

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"time"
)

func unixParent(dir string) (ping func(func() bool) ([]time.Duration, error), start func() error, cleanup func(), err error) {
	l, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		return nil, nil, nil, err
	}
	var c net.Conn
	start = func() error {
		c, err = l.Accept()
		return err
	}
	ping = func(more func() bool) ([]time.Duration, error) {
		buf := make([]byte, payloadSize)
		var lats []time.Duration
		for more() {
			t0 := time.Now()
			if _, err := c.Write(buf); err != nil {
				return nil, err
			}
			if _, err := io.ReadFull(c, buf); err != nil {
				return nil, err
			}
			lats = append(lats, time.Since(t0))
		}
		return lats, c.Close()
	}
	return ping, start, func() { l.Close() }, nil
}

// unixChild echoes until the parent closes.
func unixChild(dir string) error {
	c, err := net.Dial("unix", filepath.Join(dir, "s"))
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	buf := make([]byte, payloadSize)
	for {
		if _, err := io.ReadFull(c, buf); err != nil {
			return nil // the parent is done
		}
		if _, err := c.Write(buf); err != nil {
			return err
		}
	}
}
