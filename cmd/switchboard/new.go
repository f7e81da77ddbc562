package main

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"text/template"
)

// The scaffold's files. The kit's own options.proto and tools module are
// copies (tests keep them equal to proto/switchboard/v1/options.proto and
// tools/go.mod), so a new project pins exactly the generators the kit uses.
//
//go:embed scaffold/files
var scaffoldFiles embed.FS

const kitModule = "github.com/switchboardkit/switchboard"

const newUsage = `Usage: switchboard new DIR --module MODULE [--replace KIT_CHECKOUT] [--no-generate]

Scaffolds a service on the kit in DIR (which must not exist or be empty):
go.mod requiring the kit, a tools module pinning buf and the protoc plugins,
buf.yaml/buf.gen.yaml, a proto with a public and a protected method, its
generated code, main.go on kit.New, a test on kittest and storetest, a README
with its two commands, and .gitignore. Then it runs buf generate and go mod
tidy, so 'go run .' and 'go test ./...' work at once.

With --replace KIT_CHECKOUT the service builds against a local checkout of
the kit (a go.mod replace); a switchboard built from a checkout needs it.

Examples:
  switchboard new hello --module example.com/hello
  switchboard new ../hello --module example.com/hello --replace .   # from a checkout
`

func runNew(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("switchboard new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	module := fs.String("module", "", "the new module's path, e.g. example.com/hello (required)")
	replace := fs.String("replace", "", "KIT_CHECKOUT: a local checkout of the kit to build against")
	noGenerate := fs.Bool("no-generate", false, "write the files only: no buf generate, no go mod tidy")
	fs.Usage = func() {
		fmt.Fprint(stderr, newUsage)
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	rest, err := parse(fs, args)
	if err != nil {
		return usageErr(fs, err)
	}
	var problems []string
	switch {
	case len(rest) == 0:
		problems = append(problems, "missing DIR: where to create the service")
	case len(rest) > 1:
		problems = append(problems, fmt.Sprintf("one DIR at a time (got %d)", len(rest)))
	}
	if !validModulePath(*module) {
		problems = append(problems, fmt.Sprintf("--module %q is not a module path such as example.com/hello", *module))
	}
	if len(problems) > 0 {
		return usageErr(fs, nil, problems...)
	}
	dir := rest[0]
	data, err := scaffoldData(*module, *replace)
	if err != nil {
		return err
	}
	if err := writeScaffold(dir, data); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s (module %s)\n", dir, data.Module)
	if *noGenerate {
		return nil
	}
	for _, step := range []struct {
		args []string
		note string
	}{
		{[]string{"go", "tool", "-modfile=tools/go.mod", "buf", "generate"}, " (the first time builds the generators: a minute or two)"},
		// -e: openapi/ embeds a document the next step writes.
		{[]string{"go", "mod", "tidy", "-e"}, " (the first time downloads the kit's modules)"},
		{[]string{"go", "tool", "-modfile=tools/go.mod", "buf", "generate", "--template", "buf.gen.openapi.yaml"}, ""},
		{[]string{"go", "mod", "tidy"}, ""},
	} {
		fmt.Fprintf(stderr, "running %s%s\n", strings.Join(step.args, " "), step.note)
		cmd := exec.CommandContext(ctx, step.args[0], step.args[1:]...)
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s in %s: %w", strings.Join(step.args, " "), dir, err)
		}
	}
	fmt.Fprintf(stdout, "cd %s\ngo run .        # serves on :8080\ngo test ./...   # tests on SQLite\n", dir)
	return nil
}

type scaffold struct {
	Module, Base, Pkg   string
	KitVersion, Replace string
}

var modulePath = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._~-]*(/[a-zA-Z0-9._~-]+)*$`)

func validModulePath(m string) bool { return modulePath.MatchString(m) && !strings.Contains(m, "..") }

// scaffoldData derives names from the module path: its last element names
// the binary, and (as lowercase letters and digits) the proto package.
func scaffoldData(module, replace string) (scaffold, error) {
	base := path.Base(module)
	pkg := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return -1
	}, base)
	if pkg == "" || pkg[0] < 'a' || pkg[0] > 'z' {
		pkg = "svc" + pkg
	}
	d := scaffold{Module: module, Base: base, Pkg: pkg}
	if replace != "" {
		abs, err := filepath.Abs(replace)
		if err != nil {
			return d, err
		}
		if _, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil {
			return d, fmt.Errorf("--replace %s: no go.mod there: %w", replace, err)
		}
		d.Replace, d.KitVersion = abs, "v0.0.0-00010101000000-000000000000"
		return d, nil
	}
	info, ok := debug.ReadBuildInfo()
	switch {
	case ok && info.Main.Path == kitModule && strings.HasPrefix(info.Main.Version, "v") && !strings.Contains(info.Main.Version, "devel"):
		d.KitVersion = info.Main.Version
	default:
		return d, errors.New("this switchboard was built from a checkout, so no released kit version is known: pass --replace /path/to/the/checkout")
	}
	return d, nil
}

// writeScaffold writes the files into dir, which must be new or empty.
func writeScaffold(dir string, d scaffold) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty: scaffold into a new directory", dir)
	}
	files := map[string]string{ // destination → source in scaffold/files
		"go.mod":       "go.mod.tmpl",
		"buf.yaml":     "buf.yaml.tmpl",
		"buf.gen.yaml": "buf.gen.yaml.tmpl",
		filepath.Join("proto", d.Pkg, "v1", "greeter.proto"): "service.proto.tmpl",
		"main.go":         "main.go.tmpl",
		"greeter.go":      "greeter.go.tmpl",
		"greeter_test.go": "greeter_test.go.tmpl",
		"README.md":       "README.md.tmpl",
		".gitignore":      "gitignore.tmpl",
		"tools/go.sum":    "tools.go.sum",
		"third_party/switchboard/switchboard/v1/options.proto": "options.proto",
		"third_party/googleapis/google/api/annotations.proto":  "google_api_annotations.proto",
		"third_party/googleapis/google/api/http.proto":         "google_api_http.proto",
		"buf.gen.openapi.yaml":                                 "buf.gen.openapi.yaml.tmpl",
		filepath.Join("openapi", "openapi.go"):                 "openapi.go.tmpl",
	}
	for dst, src := range files {
		raw, err := scaffoldFiles.ReadFile("scaffold/files/" + src)
		if err != nil {
			return err
		}
		out := raw
		if strings.HasSuffix(src, ".tmpl") {
			var buf bytes.Buffer
			if err := template.Must(template.New(src).Parse(string(raw))).Execute(&buf, d); err != nil {
				return err
			}
			out = buf.Bytes()
		}
		if err := writeNew(filepath.Join(dir, dst), out); err != nil {
			return err
		}
	}
	tools, err := scaffoldFiles.ReadFile("scaffold/files/tools.go.mod")
	if err != nil {
		return err
	}
	return writeNew(filepath.Join(dir, "tools", "go.mod"), toolsModule(tools, d.Module))
}

// toolsModule turns the kit's tools/go.mod into the new project's: its own
// module path, and only the generators among its tools (the requirements,
// and so the go.sum, stay the kit's: the same versions, pinned).
func toolsModule(kit []byte, module string) []byte {
	var out []string
	inTools := false
	for _, line := range strings.Split(string(kit), "\n") {
		switch {
		case strings.HasPrefix(line, "module "):
			line = "module " + module + "/tools"
		case line == "tool (":
			inTools = true
			out = append(out, line,
				"\tconnectrpc.com/connect/v2/cmd/protoc-gen-connect-go",
				"\tgithub.com/bufbuild/buf/cmd/buf",
				"\tgoogle.golang.org/protobuf/cmd/protoc-gen-go")
			continue
		case inTools && line == ")":
			inTools = false
		case inTools:
			continue
		}
		out = append(out, line)
	}
	return []byte(strings.Join(out, "\n"))
}

func writeNew(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
