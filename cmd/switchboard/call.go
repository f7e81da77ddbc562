package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect/v2"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboardkit/switchboard/dynamic"
)

// rpcExit is returned when the call itself failed; the process exits with
// 64 + the status code (as grpcurl does), after the status is printed.
type rpcExit struct{ code connect.Code }

func (e rpcExit) Error() string { return "rpc failed: " + e.code.String() }

// runCall: switchboard call TARGET SERVICE/METHOD
func runCall(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs, t := newTargetCommand("call", "call [flags] TARGET SERVICE/METHOD",
		`switchboard call --plaintext --api-key "$KEY" -d '{"pet":{"name":"Rex","species":"SPECIES_DOG","status":"PET_STATUS_AVAILABLE"}}' localhost:8080 petstore.v1.PetStoreService/CreatePet`,
		stderr)
	data := fs.String("d", "", "request JSON: '{…}', @file, or @- for stdin (default: stdin); streams take a sequence of objects")
	timeout := fs.Duration("timeout", 0, "deadline for the whole call (0: none)")
	emitDefaults := fs.Bool("emit-defaults", false, "print fields that hold their default value")
	protoNames := fs.Bool("proto-names", false, "print proto field names instead of JSON names")
	allowUnknown := fs.Bool("allow-unknown", false, "ignore request fields the schema does not know")
	verbose := fs.Bool("v", false, "print headers, trailers and timing to stderr")
	rest, err := parse(fs, args)
	if err != nil || len(rest) != 2 {
		return usageErr(fs, err)
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	client, src, d, err := t.resolve(ctx, rest[0], rest[1])
	if err != nil {
		return err
	}
	md, ok := d.(protoreflect.MethodDescriptor)
	if !ok {
		return fmt.Errorf("%s is not a method (want SERVICE/METHOD)", rest[1])
	}
	input, closeInput, err := requestInput(*data, stdin)
	if err != nil {
		return err
	}
	defer closeInput()

	out := protojson.MarshalOptions{EmitDefaultValues: *emitDefaults, UseProtoNames: *protoNames}
	start := time.Now()
	if *verbose {
		fmt.Fprintf(stderr, "> %s over %s\n", md.FullName(), t.protocol)
	}
	err = client.Invoke(ctx, md, dynamic.JSONRequests(input, md.Input(), src, *allowUnknown), dynamic.Events{
		Headers: func(h *connect.Header) {
			if *verbose {
				printHeader(stderr, "< ", h)
			}
		},
		Message: func(m proto.Message) {
			data, merr := out.Marshal(m)
			var pretty bytes.Buffer
			if merr == nil {
				// protojson's own spacing is deliberately unstable; indent it
				// once more so output is the same from run to run.
				merr = json.Indent(&pretty, data, "", "  ")
			}
			if merr != nil {
				fmt.Fprintln(stderr, "switchboard: cannot print a response:", merr)
				return
			}
			fmt.Fprintln(stdout, pretty.String())
		},
		Trailers: func(h *connect.Header) {
			if *verbose {
				printHeader(stderr, "< trailer ", h)
			}
		},
	})
	if *verbose {
		outcome := "ok"
		if err != nil {
			outcome = connect.CodeOf(err).String()
		}
		fmt.Fprintf(stderr, "< %s in %s\n", outcome, time.Since(start).Round(time.Microsecond))
	}
	if err == nil {
		return nil
	}
	if _, isRPC := err.(*connect.Error); !isRPC && connect.CodeOf(err) == connect.CodeUnknown {
		return t.hint(err) // no RPC status: the requests could not be read, or the transport failed
	}
	status, _ := json.MarshalIndent(dynamic.StatusOf(err, src), "", "  ")
	fmt.Fprintln(stderr, string(status))
	if hinted := t.hint(err); hinted != err {
		fmt.Fprintln(stderr, strings.TrimPrefix(hinted.Error(), err.Error()+"\n"))
	}
	return rpcExit{code: connect.CodeOf(err)}
}

func requestInput(data string, stdin io.Reader) (io.Reader, func(), error) {
	switch {
	case data == "" || data == "@-":
		if stdin == nil {
			stdin = strings.NewReader("")
		}
		return stdin, func() {}, nil
	case strings.HasPrefix(data, "@"):
		f, err := os.Open(data[1:])
		if err != nil {
			return nil, nil, fmt.Errorf("request data: %w", err)
		}
		return f, func() { _ = f.Close() }, nil
	}
	return strings.NewReader(data), func() {}, nil
}

func printHeader(w io.Writer, prefix string, h *connect.Header) {
	for k, vs := range h.All() {
		for _, v := range vs {
			fmt.Fprintf(w, "%s%s: %s\n", prefix, strings.ToLower(k), v)
		}
	}
}
