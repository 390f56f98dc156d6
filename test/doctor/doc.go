// Package doctor is the evaluation harness of `tungsten doctor` (make test-doctor, and
// a short form in scripts/k8s-cluster.sh test): on the local Kubernetes cluster under a
// steady vegeta load through the gateway Service it injects one fault after another —
// app faults through each pod's admin API, crash loops and killed pods, PostgreSQL and
// Redis slow or unreachable through toxiproxy, NATS scaled to zero, node CPU pressure —
// on a target drawn by a seeded RNG, runs the doctor built from the repo, scores its
// verdict against the injected ground truth (top-1, top-3, "none" on clean trials, time
// to verdict), clears the fault and waits for recovery. Tables and every trial's doctor
// output go to test-artifacts/doctor/. Without TUNGSTEN_DOCTOR_EVAL (set by
// scripts/doctor-eval.sh) the cluster test skips; the scoring and planning unit tests
// always run.
package doctor
