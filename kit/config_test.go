package kit_test

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchboardkit/switchboard/kit"
)

func TestConfig_FlagsBeatEnvBeatsDefaults(t *testing.T) {
	cfg := kit.DefaultConfig()
	env := map[string]string{
		"SWITCHBOARD_ADDR":              "127.0.0.1:9000",
		"SWITCHBOARD_MAX_RECEIVE_BYTES": "1024",
		"SWITCHBOARD_GZIP":              "false",
		"SWITCHBOARD_SHUTDOWN_GRACE":    "3s",
	}
	if err := cfg.LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse([]string{"-addr", "127.0.0.1:0", "-reflection"}); err != nil {
		t.Fatal(err)
	}
	def := kit.DefaultConfig()
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"addr (flag over env)", cfg.Addr, "127.0.0.1:0"},
		{"max message bytes (env)", cfg.MaxReceiveBytes, 1024},
		{"gzip (env)", cfg.Gzip, false},
		{"shutdown grace (env)", cfg.ShutdownGrace, 3 * time.Second},
		{"reflection (flag)", cfg.Reflection, true},
		{"read header timeout (default)", cfg.ReadHeaderTimeout, def.ReadHeaderTimeout},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestConfig_MalformedEnvNamesTheVariable(t *testing.T) {
	cfg := kit.DefaultConfig()
	err := cfg.LoadEnv(func(k string) (string, bool) {
		if k == "SWITCHBOARD_IDLE_TIMEOUT" {
			return "soon", true
		}
		return "", false
	})
	if err == nil || !strings.Contains(err.Error(), "SWITCHBOARD_IDLE_TIMEOUT") {
		t.Errorf("LoadEnv error = %v, want one naming SWITCHBOARD_IDLE_TIMEOUT", err)
	}
	if cfg.IdleTimeout != kit.DefaultConfig().IdleTimeout {
		t.Errorf("a malformed value changed the config: %v", cfg.IdleTimeout)
	}
}

func TestConfig_ValidateRejectsImpossibleValues(t *testing.T) {
	for name, mutate := range map[string]func(*kit.Config){
		"empty addr":            func(c *kit.Config) { c.Addr = "" },
		"empty dsn":             func(c *kit.Config) { c.DSN = "" },
		"cert without key":      func(c *kit.Config) { c.TLSCertFile = "cert.pem" },
		"negative message size": func(c *kit.Config) { c.MaxReceiveBytes = -1 },
		"zero streams":          func(c *kit.Config) { c.MaxConcurrentStreams = 0 },
		"negative grace":        func(c *kit.Config) { c.ShutdownGrace = -time.Second },
		"zero header timeout":   func(c *kit.Config) { c.ReadHeaderTimeout = 0 },
	} {
		cfg := kit.DefaultConfig()
		mutate(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
	}
}

// Every knob is documented: docs/configuration.md names each flag and its
// environment variable, and its default column says the default the code
// defines (read back through the flag, so "1m" and "1m0s" agree).
func TestConfig_EveryKnobIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{} // flag → the row's cells
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) > 4 && strings.HasPrefix(strings.TrimSpace(cells[1]), "`-") {
			rows[strings.Trim(strings.TrimSpace(cells[1]), "`-")] = cells
		}
	}
	cfg := kit.DefaultConfig()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	fs.VisitAll(func(f *flag.Flag) {
		cells, ok := rows[f.Name]
		if !ok {
			t.Errorf("docs/configuration.md has no row for `-%s`", f.Name)
			return
		}
		if env := "`" + kit.EnvName(f.Name) + "`"; strings.TrimSpace(cells[2]) != env {
			t.Errorf("-%s: environment column %q, want %s", f.Name, strings.TrimSpace(cells[2]), env)
		}
		documented := strings.TrimSpace(cells[3])
		if strings.HasPrefix(documented, "empty") {
			documented = ""
		} else if parts := strings.Split(documented, "`"); len(parts) >= 3 {
			documented = parts[1]
		}
		if err := f.Value.Set(documented); err != nil || f.Value.String() != f.DefValue {
			t.Errorf("-%s: docs say the default is %q, the code says %q", f.Name, documented, f.DefValue)
		}
	})
}

func TestConfig_LogLevel(t *testing.T) {
	cfg := kit.DefaultConfig()
	var buf bytes.Buffer
	cfg.LogLevel = "debug"
	debug := cfg.NewLogger(&buf)
	debug.Debug("shown")
	debug.Warn("a warning writes what is buffered")
	cfg.LogLevel = "warn"
	warn := cfg.NewLogger(&buf)
	warn.Info("hidden")
	warn.Warn("a warning writes what is buffered")
	if !strings.Contains(buf.String(), "shown") || strings.Contains(buf.String(), "hidden") {
		t.Errorf("log levels: %q", buf.String())
	}
	cfg.LogLevel = "loud"
	if cfg.Validate() == nil {
		t.Error("an unknown log level was accepted")
	}
}
