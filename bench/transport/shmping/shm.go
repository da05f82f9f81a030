package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The shared page: the parent's sequence number, the child's, a stop flag
// and a payload slot, on separate cache lines.
type shared struct {
	req  atomic.Uint32
	_    [60]byte
	resp atomic.Uint32
	_    [60]byte
	stop atomic.Uint32
	_    [60]byte
	data [payloadSize]byte
}

const (
	futexWait = 0
	futexWake = 1
	spinFor   = 20 * time.Microsecond
)

func futex(addr *atomic.Uint32, op, val uint32) {
	syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), uintptr(op), uintptr(val), 0, 0, 0)
}

// await returns once *addr differs from old, spinning first if spin.
func await(addr *atomic.Uint32, old uint32, spin bool) uint32 {
	if spin {
		for t0 := time.Now(); time.Since(t0) < spinFor; {
			if v := addr.Load(); v != old {
				return v
			}
		}
	}
	for {
		if v := addr.Load(); v != old {
			return v
		}
		futex(addr, futexWait, old)
	}
}

func mapShared(path string, create bool) (*shared, func(), error) {
	flags := os.O_RDWR
	if create {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	const size = 4096
	if create {
		if err := f.Truncate(size); err != nil {
			return nil, nil, err
		}
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap: %w", err)
	}
	return (*shared)(unsafe.Pointer(&mem[0])), func() { syscall.Munmap(mem) }, nil
}

func shmParent(dir string, spin bool) (ping func(func() bool) ([]time.Duration, error), start func() error, cleanup func(), err error) {
	sh, unmap, err := mapShared(filepath.Join(dir, "ring"), true)
	if err != nil {
		return nil, nil, nil, err
	}
	start = func() error {
		for sh.resp.Load() == 0 { // the child announces itself with 1
			time.Sleep(time.Millisecond)
		}
		return nil
	}
	ping = func(more func() bool) ([]time.Duration, error) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var lats []time.Duration
		buf := make([]byte, payloadSize)
		resp := sh.resp.Load()
		for seq := uint32(1); more(); seq++ {
			t0 := time.Now()
			copy(sh.data[:], buf)
			sh.req.Store(seq)
			futex(&sh.req, futexWake, 1)
			resp = await(&sh.resp, resp, spin)
			copy(buf, sh.data[:])
			lats = append(lats, time.Since(t0))
		}
		sh.stop.Store(1)
		sh.req.Add(1)
		futex(&sh.req, futexWake, 1)
		return lats, nil
	}
	return ping, start, unmap, nil
}

// shmChild answers each request in the shared page until told to stop.
func shmChild(dir string, spin bool) error {
	sh, unmap, err := mapShared(filepath.Join(dir, "ring"), false)
	if err != nil {
		return err
	}
	defer unmap()
	runtime.LockOSThread()
	var buf [payloadSize]byte
	req := sh.req.Load()
	sh.resp.Store(1)
	for resp := uint32(1); ; {
		req = await(&sh.req, req, spin)
		if sh.stop.Load() != 0 {
			return nil
		}
		copy(buf[:], sh.data[:])
		copy(sh.data[:], buf[:])
		resp++
		sh.resp.Store(resp)
		futex(&sh.resp, futexWake, 1)
	}
}

func child(mode, dir string) error {
	switch mode {
	case "unix":
		return unixChild(dir)
	case "futex", "spin+futex":
		return shmChild(dir, mode == "spin+futex")
	}
	return fmt.Errorf("unknown mode %q", mode)
}
