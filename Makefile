# Developer entry points. `make test` runs exactly what CI runs (.ci/run).
SHELL := bash
.DEFAULT_GOAL := help

BIN      ?= bin/tungsten
ARGS     ?=
MODE     ?= embedded
FUZZTIME ?= 10s
SLO_MODE ?= all
FAULTS   ?= full
SEARCH_ARTICLES ?= 10000,100000
DOCTOR_TRIALS ?= 3

.PHONY: help build run test test-unit test-web newman fuzz lint test-deploy test-faults slo-gate bench search-latency loadtest cluster-up cluster-down test-cluster test-doctor

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  %-10s %s\n", $$1, $$2 }'

build: ## build the tungsten binary into bin/
	go build -o $(BIN) ./cmd/tungsten

run: build ## run every service in one process (embedded default; extra flags: ARGS="...")
	./$(BIN) serve $(ARGS)

test: ## the full suite CI runs: deps, gofmt, vet, go test, fuzz, newman (scripts/test.sh)
	bash scripts/test.sh

test-unit: ## Go tests only (no fuzz, no newman); needs PostgreSQL and Redis (scripts/deps.sh), NATS is embedded (docs/testing.md)
	go test ./...

test-web: ## the web UI in headless Chromium (playwright-core) against a live binary; screenshots in test-artifacts/web
	bash scripts/test-web.sh

newman: ## RealWorld Postman collection against a live binary (MODE=embedded|distributed)
	bash scripts/newman.sh $(MODE)

fuzz: ## every Go fuzz target for FUZZTIME each (default 10s)
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

lint: ## gofmt, go vet and staticcheck
	bash scripts/lint.sh

test-observability: ## dashboards, rules, traces and logs checked against real Prometheus + Jaeger (distributed)
	bash scripts/test-observability.sh

observability-up: ## run Tungsten distributed with Prometheus and Jaeger on loopback until Ctrl-C
	bash scripts/test-observability.sh --up

test-faults: ## kill -9/SIGTERM, datastore restarts and TCP faults (toxiproxy) under load; table in test-artifacts/faults (FAULTS=short: the CI subset)
	bash scripts/test-faults.sh $(FAULTS)

test-deploy: ## Kubernetes/Argo CD/Terraform/workflows: render, strict decode, policy checks, actionlint
	bash scripts/test-deploy.sh

slo-gate: ## 60 s of the 90/10 mix at a fixed rate, embedded then distributed; fails on p95/p99/errors (SLO_MODE=all|embedded|distributed)
	bash scripts/slo-gate.sh $(SLO_MODE)

loadtest: build ## tungsten loadtest against a running deployment (ARGS="--url ... --rate ...")
	./$(BIN) loadtest $(ARGS)

bench: ## ceiling vs all-in-one vs distributed, closed and open loop; table, JSON, plot in test-artifacts/bench (BENCH_SHORT=1: short form)
	bash scripts/bench.sh $(ARGS)

search-latency: ## search latency at SEARCH_ARTICLES synthetic articles (default 10000,100000) on SQLite and PostgreSQL (ADR 0015)
	TUNGSTEN_SEARCH_LATENCY_ARTICLES=$(SEARCH_ARTICLES) nice -n 10 go test -count=1 -v -timeout 60m \
		-run '^TestSearchLatency$$' ./internal/blog/adapters/sqlstore/

cluster-up: ## a real single-node Kubernetes here with Tungsten deployed (tests/cluster = dev overlay); root
	bash scripts/k8s-cluster.sh up

cluster-down: ## stop that cluster and remove everything it made (processes, bridge, iptables, mounts, sysctls)
	bash scripts/k8s-cluster.sh down

test-cluster: ## cluster-up, image/rollout/self-healing/HPA/PDB/logs tests, newman through the Service, cluster-down
	bash scripts/k8s-cluster.sh test

test-doctor: ## cluster-up, tungsten doctor scored on seeded faults under load (DOCTOR_TRIALS per class, default 3; table in test-artifacts/doctor), cluster-down
	TUNGSTEN_DOCTOR_TRIALS=$(DOCTOR_TRIALS) bash scripts/k8s-cluster.sh doctor
