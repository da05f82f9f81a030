package main

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/pilotage/pilotage/bench/transport/loadgen"
)

// grpcMaxMsg lets the 1 MiB case through gRPC's 4 MiB default with room.
const grpcMaxMsg = 64 << 20

var echoService = grpc.ServiceDesc{
	ServiceName: "bench.Echo",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		{
			MethodName: "Echo",
			Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				in := new(wrapperspb.BytesValue)
				if err := dec(in); err != nil {
					return nil, err
				}
				return wrapperspb.Bytes(in.Value), nil
			},
		},
		{
			MethodName: "Mallocs",
			Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				if err := dec(new(emptypb.Empty)); err != nil {
					return nil, err
				}
				return wrapperspb.UInt64(loadgen.Mallocs()), nil
			},
		},
	},
}

func serveGRPC(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(grpcMaxMsg), grpc.MaxSendMsgSize(grpcMaxMsg))
	srv.RegisterService(&echoService, struct{}{})
	fmt.Println("listening", l.Addr())
	return srv.Serve(l)
}

// loadGRPC runs plan over one gRPC client connection (HTTP/2 multiplexes
// the callers, as a gRPC user's channel does).
func loadGRPC(addr string, plan loadgen.Plan) ([]loadgen.Result, error) {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(grpcMaxMsg), grpc.MaxCallSendMsgSize(grpcMaxMsg)))
	if err != nil {
		return nil, err
	}
	defer cc.Close()
	call := func(ctx context.Context, _ int, payload []byte) ([]byte, error) {
		out := new(wrapperspb.BytesValue)
		if err := cc.Invoke(ctx, "/bench.Echo/Echo", wrapperspb.Bytes(payload), out); err != nil {
			return nil, err
		}
		return out.Value, nil
	}
	mallocs := func(ctx context.Context) (uint64, error) {
		out := new(wrapperspb.UInt64Value)
		err := cc.Invoke(ctx, "/bench.Echo/Mallocs", new(emptypb.Empty), out)
		return out.Value, err
	}
	return loadgen.Run(background, plan, call, mallocs)
}
