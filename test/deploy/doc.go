// Package deploy validates the delivery manifests (make test-deploy, scripts/test-deploy.sh):
// it renders every Kustomize overlay and tests/ combination with the kustomize Go API,
// decodes every object strictly into the Kubernetes API types and checks the policies
// of docs/deploy.md#validation. Without TUNGSTEN_DEPLOY_TEST=1 the tests skip, like
// test/observability, so that `go test ./...` stays fast.
package deploy

//go:generate go run ./genmonitoring
