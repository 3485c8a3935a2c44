# The two commands a new user needs: `make dev` and `make test`.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
# Go 1.27.3, fetched once from the module proxy by the go command: Go 1.26.8
# carries vulnerabilities in net/http, crypto/tls, crypto/x509 and
# html/template that make vuln reports (fixed in 1.26.9 and 1.26.10, which
# this project cannot fetch). go.mod keeps the language at 1.26.
export GOTOOLCHAIN := go1.27.3
# Every module of the workspace. The root holds the system; client is the Go
# client users go get without the services; deploy,
# pkg/testinfra/containers, tests/chaos and tests/cloudevents are modules of
# their own only to keep kustomize, compose-go, testcontainers, Toxiproxy and
# the CloudEvents SDK out of its module graph.
MODULES := . client deploy pkg/testinfra/containers tests/chaos tests/cloudevents
# Test packages run in parallel processes; each test makes its own database
# and stream, so they do not see each other.
TEST_FLAGS ?= -race -count=1 -timeout 15m

.PHONY: help dev dev-reset test fuzz fuzz-smoke chaos chaos-cluster bench bench-quick build migrate tidy vet modules-check cross-check
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

# cmd/devstack is built, then run (not go run), so that Ctrl-C reaches it
# directly and it stops what it started.
dev: ## run the local stack (your Postgres/Redis/NATS, else private ones in .dev/ from the installed packages, else containers)
	@$(GO) build -o .cache/bin/devstack ./cmd/devstack
	@.cache/bin/devstack

dev-reset: ## wipe .dev/ (make dev's private Postgres, Redis and NATS data); refused while make dev runs
	@$(GO) build -o .cache/bin/devstack ./cmd/devstack
	@.cache/bin/devstack -reset

test: ## every test of every module, against real Postgres, Redis and NATS
	@for m in $(MODULES); do \
	  echo "== go test $$m"; \
	  (cd $$m && $(GO) test $(TEST_FLAGS) ./...) || exit 1; \
	done
	@$(MAKE) --no-print-directory fuzz-smoke

# go test above already replays every fuzz target's seeds and testdata/fuzz
# corpus; fuzz-smoke also mutates for a moment, fuzz for as long as you like.
FUZZTIME ?= 60s
fuzz: ## run every fuzz target for FUZZTIME each (default 60s); failures are saved under testdata/fuzz
	@FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh

fuzz-smoke: ## every fuzz target mutated for 5s (part of make test)
	@echo "== fuzz smoke"
	@FUZZTIME=5s GO=$(GO) scripts/fuzz.sh

# make test runs both in a short form (tests/chaos); these run them at the
# issue's durations and print one table per scenario.
CHAOS_FLAGS ?= -count=1 -v -timeout 30m
chaos: ## faults under load on one node (Toxiproxy, own redis-server and nats-server), audited; about 10 minutes
	cd tests/chaos && CHAOS=full $(GO) test $(CHAOS_FLAGS) -run 'TestChaos$$' .

chaos-cluster: ## leader and master kills on a 3-node NATS cluster and a Redis Cluster, audited; about 2 minutes
	cd tests/chaos && CHAOS=full $(GO) test $(CHAOS_FLAGS) -run 'TestChaosCluster$$' .

bench: ## every hot path beside its floor, as ratios (about 10 minutes); the table also goes to bench-results.json
	$(GO) run ./tests/bench -out bench-results.json

bench-quick: ## make bench in shorter turns, on a 100k list database (about 2 minutes)
	$(GO) run ./tests/bench -quick -out bench-results.json

# The binaries, each from its package under services/ or cmd/. Built outside
# the workspace, where the go command stamps the commit for --version.
BINARIES := services/command services/query services/cache-invalidator cmd/ticketctl cmd/httpprobe

build: ## build every binary (the three services, ticketctl, httpprobe) into bin/
	@mkdir -p bin
	GOWORK=off $(GO) build -buildvcs=auto -o bin/ $(addprefix ./,$(BINARIES))

migrate: ## apply the migrations to DATABASE_URL
	$(GO) run ./services/command migrate

modules-check: ## every module builds on its own (GOWORK=off), as Docker builds and go mod tidy need
	@for m in $(MODULES); do (cd $$m && GOWORK=off $(GO) build ./... && GOWORK=off $(GO) vet ./...) || { echo "$$m does not build with GOWORK=off: run make tidy"; exit 1; }; done

# What people run on their own machines, make dev and ticketctl, builds and
# vets for macOS and Windows too (CI runs on Linux only).
cross-check: ## go vet cmd/devstack and cmd/ticketctl for darwin/arm64, darwin/amd64 and windows/amd64
	@for p in darwin/arm64 darwin/amd64 windows/amd64; do \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./cmd/devstack ./cmd/ticketctl || { echo "cmd/devstack or cmd/ticketctl does not build for $$p"; exit 1; }; \
	done

vet: ## go vet every module
	@for m in $(MODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done

tidy: ## sync the workspace, then go mod tidy every module (each also builds with GOWORK=off)
	$(GO) work sync
	@for m in $(MODULES) tools; do (cd $$m && GOWORK=off $(GO) mod tidy) || exit 1; done

include mk/tools.mk
include mk/stack.mk

# make lint also validates the compose file, the Dockerfiles and the manifests.
lint: deploy-validate modules-check cross-check
