package telemetry

import "runtime"

func goVersion() string { return runtime.Version() }
