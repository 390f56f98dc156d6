// Package cluster tests Tungsten deployed on a real single-node Kubernetes
// (scripts/k8s-cluster.sh, make test-cluster): the image against the Dockerfile, every
// Deployment Available through its real probes, the migrate Job before the services,
// rolling updates and self-healing under load (github.com/tsenart/vegeta/v12), the HPA,
// the PDB and the pods' logs. Without TUNGSTEN_CLUSTER_TEST=1 (set by the harness) the
// tests skip, so `go test ./...` needs no cluster.
package cluster
