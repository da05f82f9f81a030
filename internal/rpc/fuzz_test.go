package rpc

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/pilotage/pilotage/codegen"
)

// frame builds a frame for the seed corpus.
func frame(typ byte, id uint64, payload []byte) []byte {
	var h [headerLen]byte
	putHeader(&h, typ, len(payload), id)
	return append(h[:], payload...)
}

func requestPayload(component string, method uint32, deadline uint64, args []byte) []byte {
	p := make([]byte, requestPrefix, requestPrefix+len(args))
	putRequestPrefix(p, ComponentID(component), method, deadline)
	return append(p, args...)
}

func errorPayload(err error) []byte {
	var e codegen.Encoder
	e.Error(err)
	return e.Data()
}

func fuzzSeeds() [][]byte {
	pre := preface(DefaultMaxFrameSize)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	oversized := frame(frameRequest, 1, nil)
	oversized[7] = 0x7f // claims ~2 GiB
	return [][]byte{
		cat(pre[:], frame(frameRequest, 1, requestPayload(testComponent, mEcho, 0, encodeBytes([]byte("hello"))))),
		cat(pre[:], frame(frameRequest, 1, requestPayload(testComponent, mEcho, 1000, encodeBytes(nil))), frame(frameCancel, 1, nil)),
		cat(pre[:], frame(frameRequest, 2, requestPayload(testComponent, mPanic, 0, nil)), frame(frameRequest, 3, requestPayload(testComponent, mBoom, 0, nil))),
		cat(pre[:], frame(frameRequest, 4, requestPayload("nope", 0, 0, nil)), frame(frameRequest, 5, requestPayload(testComponent, 77, 0, nil))),
		cat(pre[:], frame(frameRequest, 6, []byte{1, 2, 3})),
		cat(pre[:], oversized),
		cat(pre[:], frame(frameResponse, 1, encodeBytes([]byte("x")))),
		cat(pre[:], frame(frameError, 1, errorPayload(errBoom)), frame(frameReject, 2, errorPayload(codegen.ErrUnavailable))),
		cat(pre[:], frame(frameGoAway, 9, nil), frame(frameCancel, 3, []byte("x"))),
		cat(pre[:], frame(frameError, 1, []byte{1, 0xff, 0xff, 0xff, 0x7f})),
		[]byte("PLTG\x01\x00\x00\x00"),
		[]byte("PLTG\x02\x00\x00\x00\x00\x01\x00\x00"),
		[]byte("PLTG\x03\x00\x00\x00\x00\x01\x00\x00"),
		[]byte("PLTG\x05\x00\x00\x00\x00\x01\x00\x00\x06shop-b"),
		cat(encodePreface(DefaultMaxFrameSize, "shop-b2"), frame(frameRequest, 1, requestPayload(testComponent, mEcho, 0, encodeBytes([]byte("x"))))),
		cat(pre[:], frame(framePing, 7, nil), frame(framePong, 7, nil), frame(framePing, 8, []byte("x"))),
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	}
}

// FuzzFrameReader feeds arbitrary bytes to the frame decoder, to a server
// connection and to a client connection. None may panic, hang or allocate
// what the input merely claims.
func FuzzFrameReader(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	const maxFrame = 64 << 10
	srv := NewServer(ServerOptions{MaxFrameSize: maxFrame, HandshakeTimeout: time.Second})
	th := newTestHandlers()
	hs := th.handlers()
	if err := srv.Register(testComponent, []codegen.Handler{mEcho: hs[mEcho], mPanic: hs[mPanic], mBoom: hs[mBoom]}); err != nil {
		f.Fatal(err)
	}
	pre := preface(maxFrame)
	dopts := DialOptions{MaxFrameSize: maxFrame}
	dopts.setDefaults()

	f.Fuzz(func(t *testing.T, data []byte) {
		// 1. The decoding functions alone.
		if len(data) >= prefaceLen {
			checkPreface(data[:prefaceLen])
		}
		br := bufio.NewReaderSize(bytes.NewReader(data), 4096)
		for {
			h, err := readHeader(br, maxFrame)
			if err != nil {
				break
			}
			p, err := readPayload(br, h.n, nil)
			if err != nil {
				break
			}
			if len(p) != h.n {
				t.Fatalf("read %d bytes of a %d-byte payload", len(p), h.n)
			}
			switch h.typ {
			case frameRequest:
				parseRequest(p)
			case frameError, frameReject:
				decodeError(p)
			}
		}

		stream := data
		if !bytes.HasPrefix(data, pre[:4]) {
			stream = append(pre[:], data...)
		}

		// 2. A server connection reading the bytes.
		cli, srvEnd := net.Pipe()
		sc := newServerConn(srv, srvEnd)
		served := make(chan struct{})
		go func() { sc.serve(); close(served) }()
		go io.Copy(io.Discard, cli)
		cli.SetWriteDeadline(time.Now().Add(5 * time.Second))
		cli.Write(stream)
		cli.Close()
		<-served
		sc.handlers.Wait()

		// 3. A client connection reading them as replies to its calls.
		cli, srvEnd = net.Pipe()
		go io.Copy(io.Discard, srvEnd)
		c := newConn(cli, "fuzz", dopts, maxFrame)
		calls := make(chan error, 2)
		for range 2 {
			go func() {
				_, err := c.Call(context.Background(), testComponent, mEcho, nil)
				calls <- err
			}()
		}
		srvEnd.SetWriteDeadline(time.Now().Add(5 * time.Second))
		srvEnd.Write(data)
		srvEnd.Close()
		<-calls
		<-calls
		<-c.Done()
	})
}
