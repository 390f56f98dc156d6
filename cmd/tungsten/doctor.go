package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/tungsten-blog/tungsten/internal/doctor"
	"github.com/tungsten-blog/tungsten/internal/doctor/triage"
	"github.com/tungsten-blog/tungsten/internal/platform/config"
)

const doctorUsage = `Usage: tungsten doctor [flags]

Names the culprit of an incident: reads pod status, container logs and node
resources from the Kubernetes API, RED metrics, dependency signals and alerts
from Prometheus, error lines from VictoriaLogs and failing or slow hops from
Jaeger, compares the last --window with the --baseline before it, and prints
a verdict (the faulty service or datastore, the node, or "no culprit"), the
top three candidates with a confidence, and the evidence in the operators'
triage order with the command that reproduces each item. A source that is
not given or does not answer is listed as not consulted. Reads only; needs
get/list on pods, pods/log, events and nodes (and metrics.k8s.io).

Exit status: 0 no culprit, 1 a culprit was named, 2 the doctor could not run
(bad flags, or no source could be consulted).

  tungsten doctor --prometheus-url http://127.0.0.1:9090 --logs-url http://127.0.0.1:9428 \
      --jaeger-url http://127.0.0.1:16686
  tungsten doctor --no-kube --prometheus-url http://127.0.0.1:9090 \
      --admin-urls gateway=http://127.0.0.1:9090,users=http://127.0.0.1:9092 --output json

Flags (command line only):
`

// doctorCmd runs `tungsten doctor`.
func doctorCmd(args []string, stdout, stderr io.Writer) int {
	var cfg triage.Config
	_, code, ok := parseFlags("tungsten doctor", args, stderr, cfg.RegisterFlags, func(fs *flag.FlagSet) {
		fmt.Fprint(stdout, doctorUsage)
		config.PrintFlags(stdout, fs)
	})
	if !ok {
		return code
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "tungsten doctor: invalid flags:\n%v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := triage.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "tungsten doctor: %v:\n", err)
		for _, n := range rep.NotConsulted {
			fmt.Fprintf(stderr, "  %s: %s\n", n.Source, n.Why)
		}
		return 2
	}
	write := triage.WriteText
	if cfg.Output == "json" {
		write = triage.WriteJSON
	}
	if err := write(stdout, rep); err != nil {
		fmt.Fprintf(stderr, "tungsten doctor: %v\n", err)
		return 2
	}
	if rep.Verdict.Component == doctor.None {
		return 0
	}
	return 1
}
