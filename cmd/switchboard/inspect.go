package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboardkit/switchboard/dynamic"
)

func newTargetCommand(name, usage, example string, stderr io.Writer) (*flag.FlagSet, *targetFlags) {
	fs := flag.NewFlagSet("switchboard "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	t := &targetFlags{}
	t.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: switchboard %s\nExample: %s\n\nFlags:\n", usage, example)
		fs.PrintDefaults()
	}
	return fs, t
}

// runList: switchboard list TARGET [SERVICE]
func runList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, t := newTargetCommand("list", "list [flags] TARGET [SERVICE]",
		"switchboard list --plaintext localhost:8080 petstore.v1.PetStoreService", stderr)
	rest, err := parse(fs, args)
	if err != nil || len(rest) < 1 || len(rest) > 2 {
		return usageErr(fs, err)
	}
	_, src, err := t.connect(ctx, rest[0])
	if err != nil {
		return err
	}
	if len(rest) == 1 {
		names, err := src.ListServices(ctx)
		if err != nil {
			return t.hint(err)
		}
		for _, n := range names {
			fmt.Fprintln(stdout, n)
		}
		return nil
	}
	d, err := src.FindDescriptor(ctx, protoreflect.FullName(rest[1]))
	if err != nil {
		return err
	}
	svc, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return fmt.Errorf("%s is not a service", rest[1])
	}
	for i := range svc.Methods().Len() {
		fmt.Fprintf(stdout, "%s/%s\n", svc.FullName(), svc.Methods().Get(i).Name())
	}
	return nil
}

// runDescribe: switchboard describe TARGET SYMBOL
func runDescribe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, t := newTargetCommand("describe", "describe [flags] TARGET SYMBOL",
		"switchboard describe --plaintext localhost:8080 petstore.v1.Pet", stderr)
	rest, err := parse(fs, args)
	if err != nil || len(rest) != 2 {
		return usageErr(fs, err)
	}
	_, _, d, err := t.resolve(ctx, rest[0], rest[1])
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, dynamic.Describe(d))
	return nil
}

// runTemplate: switchboard template TARGET MESSAGE
func runTemplate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, t := newTargetCommand("template", "template [flags] TARGET MESSAGE",
		"switchboard template --plaintext localhost:8080 petstore.v1.CreatePetRequest", stderr)
	protoNames := fs.Bool("proto-names", false, "use proto field names (page_size) instead of JSON names (pageSize)")
	typed := fs.Bool("types", false, "show each field's type instead of a sample value")
	rest, err := parse(fs, args)
	if err != nil || len(rest) != 2 {
		return usageErr(fs, err)
	}
	_, _, d, err := t.resolve(ctx, rest[0], rest[1])
	if err != nil {
		return err
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if m, isMethod := d.(protoreflect.MethodDescriptor); isMethod {
		md, ok = m.Input(), true // a method: template its request
	}
	if !ok {
		return fmt.Errorf("%s is not a message or method", rest[1])
	}
	_, err = stdout.Write(dynamic.Template(md, dynamic.TemplateConfig{ProtoNames: *protoNames, Types: *typed}))
	return err
}

// symbolName accepts "pkg.Service/Method" as well as "pkg.Service.Method".
func symbolName(s string) protoreflect.FullName {
	return protoreflect.FullName(strings.ReplaceAll(strings.TrimPrefix(s, "/"), "/", "."))
}
