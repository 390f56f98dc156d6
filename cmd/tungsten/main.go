// Command tungsten runs the Tungsten blogging platform: every service in one
// process (the embedded default), or any group of them per process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tungsten-blog/tungsten/internal/app"
	"github.com/tungsten-blog/tungsten/internal/loadgen"
	"github.com/tungsten-blog/tungsten/internal/platform/config"
	"github.com/tungsten-blog/tungsten/internal/platform/telemetry"
)

// Set at build time with -ldflags "-X main.version=... -X main.revision=...".
var (
	version  = "dev"
	revision = "unknown"
)

const usage = `Tungsten: a cloud-native microservice blogging platform.

Usage:
  tungsten serve [flags]     run the modules named by --target (default: all, the embedded default)
  tungsten migrate [flags]   apply database migrations of the targeted services and exit
  tungsten rebuild-read-model [flags]
                             with the blog stopped, replace its read model of authors and follows
                             with a snapshot of the users service (docs/operations.md)
  tungsten loadtest [flags]  send weighted user scenarios to a deployment and check latency/error thresholds
  tungsten doctor [flags]    name the culprit of an incident from Kubernetes, Prometheus, logs and traces
  tungsten version           print the version
  tungsten help              show this help; "tungsten serve --help" lists every flag

`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve", "migrate", "rebuild-read-model":
		return serve(args[0], args[1:], stdout, stderr)
	case "loadtest":
		return loadtest(args[1:], stdout, stderr)
	case "doctor":
		return doctorCmd(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "tungsten %s (revision %s)\n", version, revision)
		return 0
	case "help", "--help", "-help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "tungsten: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

func serve(cmd string, args []string, stdout, stderr io.Writer) int {
	started := time.Now()
	var cfg app.Config
	var printConfig, verifyConfig *bool
	fs, code, ok := parseFlags("tungsten "+cmd, args, stderr, func(fs *flag.FlagSet) {
		cfg.RegisterFlags(fs)
		printConfig = fs.Bool("print-config", false, "print the effective configuration (secrets redacted) and exit")
		verifyConfig = fs.Bool("verify-config", false, "check the configuration and exit (status 0 when valid)")
	}, func(fs *flag.FlagSet) {
		fmt.Fprintf(stdout, "Usage: tungsten %s [flags]\n\nEvery flag can also be set by its environment variable; the command line wins.\n\nFlags:\n", cmd)
		config.PrintUsage(stdout, fs)
	})
	if !ok {
		return code
	}
	if err := config.ApplyEnv(fs, os.LookupEnv); err != nil {
		fmt.Fprintf(stderr, "tungsten %s: %v\n", cmd, err)
		return 2
	}
	cfg.MigrateOnly = cmd == "migrate"

	level := new(slog.LevelVar)
	if l, err := telemetry.ParseLevel(cfg.LogLevel); err == nil {
		level.Set(l)
	}
	log := telemetry.NewLogger(os.Stdout, level)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	serviceName := "tungsten"
	if t := cfg.Target.String(); t != app.All {
		serviceName += "-" + strings.ReplaceAll(t, ",", "-")
	}
	trc, err := telemetry.NewTracing(ctx, serviceName, version)
	if err != nil {
		fmt.Fprintf(stderr, "tungsten %s: %v\n", cmd, err)
		return 1
	}
	defer func() {
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := trc.Shutdown(fctx); err != nil {
			log.Warn("flushing traces", "error", err)
		}
	}()

	a, err := app.New(cfg, app.Build{Version: version, Revision: revision}, log, level, trc)
	if err != nil {
		fmt.Fprintf(stderr, "tungsten %s: invalid configuration:\n%v\n", cmd, err)
		return 2
	}
	if *printConfig {
		config.PrintValues(stdout, fs)
		return 0
	}
	if *verifyConfig {
		fmt.Fprintf(stdout, "configuration is valid; modules: %v\n", a.Modules())
		return 0
	}

	if cmd == "migrate" {
		counts, err := a.Migrate(ctx)
		if err != nil {
			log.Error("migration failed", "error", err)
			return 1
		}
		for svc, n := range counts {
			fmt.Fprintf(stdout, "%s: %d migrations applied\n", svc, n)
		}
		return 0
	}
	if cmd == "rebuild-read-model" {
		st, err := a.RebuildReadModel(ctx)
		if err != nil {
			log.Error("rebuilding the read model failed", "error", err)
			return 1
		}
		fmt.Fprintf(stdout, "blog read model rebuilt: %d authors, %d follows; the blog replays the retained users events when it starts\n",
			st.Authors, st.Follows)
		return 0
	}
	if err := a.Run(ctx, started); err != nil {
		log.Error("tungsten stopped with an error", "error", err)
		return 1
	}
	return 0
}

// loadtest runs `tungsten loadtest`: exit 0 when every threshold held, 1 when
// one broke or the run failed, 2 on bad flags.
func loadtest(args []string, stdout, stderr io.Writer) int {
	var cfg loadgen.Config
	_, code, ok := parseFlags("tungsten loadtest", args, stderr, cfg.RegisterFlags, func(fs *flag.FlagSet) {
		fmt.Fprint(stdout, "Usage: tungsten loadtest [flags]\n\nSeeds a data set through the public API, sends weighted user scenarios at a\nconstant rate (open loop) or with --workers (closed loop), prints a summary and\nexits 1 when a threshold is broken. Against a server with default limits, relax\n--gateway.rate-limit, --auth.login-ip-limit, --auth.login-ip-account-limit,\n--auth.login-account-limit, --auth.register-ip-limit, --blog.write-limit,\n--blog.favorite-limit and --users.follow-limit.\n\nFlags (command line only):\n")
		config.PrintFlags(stdout, fs)
	})
	if !ok {
		return code
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "tungsten loadtest: invalid configuration:\n%v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := loadgen.LoadTest(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "tungsten loadtest: %v\n", err)
		return 1
	}
	if err := cfg.WriteReport(stdout, rep); err != nil {
		fmt.Fprintf(stderr, "tungsten loadtest: %v\n", err)
		return 1
	}
	if len(rep.Violations) > 0 {
		fmt.Fprintf(stderr, "tungsten loadtest: FAILED: %s\n", strings.Join(rep.Violations, "; "))
		return 1
	}
	return 0
}

// parseFlags parses the flags of the subcommand name: register adds them to the
// set, usage prints its --help to stdout. ok is false when the command must
// not go on: --help (code 0), a bad flag or a stray argument (code 2, the
// message on stderr).
func parseFlags(name string, args []string, stderr io.Writer, register, usage func(*flag.FlagSet)) (fs *flag.FlagSet, code int, ok bool) {
	fs = flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	register(fs)
	fs.Usage = func() { usage(fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return fs, 0, false
		}
		return fs, 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q (flags start with --)\n", name, fs.Arg(0))
		return fs, 2, false
	}
	return fs, 0, true
}
