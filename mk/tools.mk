# mk/tools.mk: code generation and linting with pinned tools.
# Included from the top Makefile; also usable alone: make -f mk/tools.mk lint
#
# buf and golangci-lint are pinned by `tool` lines in tools/go.mod (a module
# outside go.work, so its dependencies never reach the services). protoc-gen-go
# is pinned in the root go.mod instead: it must be the very protobuf version
# the generated code runs with and that gen_test.go checks against; buf's own
# go.mod would drag it to another version.
# The binaries are built once into .cache/bin (gitignored) and rebuilt when
# their go.mod changes; buf finds protoc-gen-go there through PATH.

GO ?= go

# Paths are absolute, from this file's place, so the targets work from any
# directory and under make -C.
TOOLS_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
TOOLS_BIN := $(TOOLS_ROOT)/.cache/bin
PROTO_DIR := $(TOOLS_ROOT)/proto-events

BUF := $(TOOLS_BIN)/buf
GOLANGCI_LINT := $(TOOLS_BIN)/golangci-lint
PROTOC_GEN_GO := $(TOOLS_BIN)/protoc-gen-go

# The branch buf breaking compares against.
BREAKING_BRANCH ?= main

# Every module of the workspace, as absolute directories. Override to lint a
# few: make lint MODULES=$PWD/pkg
MODULES ?= $(shell $(GO) -C $(TOOLS_ROOT) list -m -f '{{.Dir}}')

.PHONY: tools proto proto-lint proto-breaking lint vuln openapi-lint openapi asyncapi-lint rules-test

tools: $(BUF) $(GOLANGCI_LINT) $(PROTOC_GEN_GO) ## build the pinned buf, golangci-lint and protoc-gen-go into .cache/bin

# Tools that load the project's packages must be built by the toolchain that
# builds the project: a new GOTOOLCHAIN rebuilds them.
TOOLCHAIN_STAMP := $(TOOLS_ROOT)/.cache/toolchain-$(or $(GOTOOLCHAIN),local)
$(TOOLCHAIN_STAMP):
	@mkdir -p $(dir $@) && touch $@

$(BUF): $(TOOLS_ROOT)/tools/go.mod $(TOOLS_ROOT)/tools/go.sum
	GOWORK=off $(GO) -C $(TOOLS_ROOT)/tools build -o $@ github.com/bufbuild/buf/cmd/buf

$(GOLANGCI_LINT): $(TOOLS_ROOT)/tools/go.mod $(TOOLS_ROOT)/tools/go.sum $(TOOLCHAIN_STAMP)
	GOWORK=off $(GO) -C $(TOOLS_ROOT)/tools build -o $@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint

# Built from the root module, as `go test` runs gen_test.go.
$(PROTOC_GEN_GO): $(TOOLS_ROOT)/go.mod $(TOOLS_ROOT)/go.sum
	$(GO) -C $(TOOLS_ROOT) build -o $@ google.golang.org/protobuf/cmd/protoc-gen-go

# Regenerates proto-events/gen from proto-events/proto. protoc-gen-go's output
# is gofmt-clean already and is committed byte for byte as generated (the
# test compares bytes), so nothing reformats it.
proto: $(BUF) $(PROTOC_GEN_GO) ## regenerate proto-events/gen from proto-events/proto
	cd $(PROTO_DIR) && PATH="$(TOOLS_BIN):$$PATH" $(BUF) generate

proto-lint: $(BUF) ## buf lint of the event contracts
	cd $(PROTO_DIR) && $(BUF) lint

# Compares the working tree with proto-events on $(BREAKING_BRANCH). Skipped
# while that branch does not exist or holds no proto-events/buf.yaml yet (a
# new repository, or the commit that adds the contracts).
proto-breaking: $(BUF) ## buf breaking against $(BREAKING_BRANCH)
	@if git -C $(TOOLS_ROOT) rev-parse --verify -q '$(BREAKING_BRANCH):proto-events/buf.yaml' >/dev/null; then \
		echo 'cd $(TOOLS_ROOT) && $(BUF) breaking proto-events --against .git#branch=$(BREAKING_BRANCH),subdir=proto-events'; \
		cd $(TOOLS_ROOT) && $(BUF) breaking proto-events --against '.git#branch=$(BREAKING_BRANCH),subdir=proto-events'; \
	else \
		echo 'proto-breaking: $(BREAKING_BRANCH) has no proto-events/buf.yaml yet; nothing to compare against'; \
	fi

# govulncheck with its database built from a pinned golang.org/x/vulndb (the
# OSV files the Go team publishes, as a module), so the check needs no access
# to vuln.go.dev and gives the same answer until tools/vuln/go.mod moves it:
# bump golang.org/x/vulndb there to learn of newer vulnerabilities.
GOVULNCHECK := $(TOOLS_BIN)/govulncheck
VULNDB_INDEXER := $(TOOLS_BIN)/vulndb-indexdb
VULN_DB := $(TOOLS_ROOT)/.cache/vulndb

$(GOVULNCHECK): $(TOOLS_ROOT)/tools/vuln/go.mod $(TOOLS_ROOT)/tools/vuln/go.sum $(TOOLCHAIN_STAMP)
	GOWORK=off $(GO) -C $(TOOLS_ROOT)/tools/vuln build -o $@ golang.org/x/vuln/cmd/govulncheck

$(VULNDB_INDEXER): $(TOOLS_ROOT)/tools/vuln/go.mod $(TOOLS_ROOT)/tools/vuln/go.sum
	GOWORK=off $(GO) -C $(TOOLS_ROOT)/tools/vuln build -o $@ golang.org/x/vulndb/cmd/indexdb

$(VULN_DB)/index/db.json: $(VULNDB_INDEXER)
	rm -rf $(VULN_DB)
	GOWORK=off $(GO) -C $(TOOLS_ROOT)/tools/vuln mod download golang.org/x/vulndb
	$(VULNDB_INDEXER) -vulns "$$(GOWORK=off $(GO) -C $(TOOLS_ROOT)/tools/vuln list -m -f '{{.Dir}}' golang.org/x/vulndb)/data/osv" -out $(VULN_DB)

vuln: $(GOVULNCHECK) $(VULN_DB)/index/db.json ## govulncheck of every module against the pinned vulnerability database
	@status=0; for m in $(MODULES); do \
		echo "govulncheck ./... in $$m"; \
		(cd "$$m" && $(GOVULNCHECK) -db file://$(VULN_DB) ./...) || status=1; \
	done; exit $$status

# The services' OpenAPI descriptions (api/openapi/*.yaml) are linted by
# @redocly/cli, pinned to an exact version in tools/npm/package.json and
# package-lock.json, the way the Go tools are pinned in tools/go.mod: npm ci
# installs it into tools/npm/node_modules (gitignored) on first use and again
# when the lock file changes (the stamp), without running any package's
# install scripts. It needs node and npm (Node.js 20.19+ or 22.12+).
# redocly.yaml there extends recommended-strict, so a warning fails too;
# .redocly.lint-ignore.yaml beside it lists the accepted ones with reasons.
NPM ?= npm
NPM_DIR := $(TOOLS_ROOT)/tools/npm
REDOCLY := $(NPM_DIR)/node_modules/.bin/redocly
NPM_STAMP := $(NPM_DIR)/node_modules/.installed

$(NPM_STAMP): $(NPM_DIR)/package.json $(NPM_DIR)/package-lock.json
	$(NPM) ci --prefix $(NPM_DIR) --ignore-scripts --no-audit --no-fund
	@touch $@

openapi-lint: $(NPM_STAMP) ## redocly lint of the services' OpenAPI descriptions (api/openapi)
	cd $(TOOLS_ROOT) && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
		$(REDOCLY) lint --config api/openapi/redocly.yaml api/openapi/command.yaml api/openapi/query.yaml \
			api/openapi/ticketsys.yaml

# api/openapi/ticketsys.yaml, the front door's description, is made from the
# services' own; the Go client (client/api) from it by the oapi-codegen
# pinned in tools/go.mod; docs.html, the reference page the front door serves
# at /docs, by redocly with its scripts inlined (it loads nothing from the
# network). All three are committed; api/openapi's tests fail when one is
# stale.
openapi: $(NPM_STAMP) ## regenerate api/openapi/ticketsys.yaml, the Go client (client/api) and api/openapi/docs.html
	cd $(TOOLS_ROOT) && $(GO) run ./api/openapi/combine
	GOWORK=off $(GO) -C $(TOOLS_ROOT)/tools tool oapi-codegen -config ../client/api/oapi-codegen.yaml ../api/openapi/ticketsys.yaml
	mv $(TOOLS_ROOT)/tools/api.gen.go $(TOOLS_ROOT)/client/api/api.gen.go
	cd $(TOOLS_ROOT) && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
		$(REDOCLY) build-docs api/openapi/ticketsys.yaml --inlineBundle --title "ticketsys API" -o api/openapi/docs.html
	cd $(TOOLS_ROOT) && $(GO) run ./api/openapi/combine -docs api/openapi/docs.html

# The event stream's AsyncAPI 3.0 description (api/asyncapi/tickets.yaml) is
# validated by @asyncapi/cli, pinned and installed with @redocly/cli above.
# --fail-severity warn: a warning fails too. asyncapi-latest-version (an
# information that 3.1.0 exists) is suppressed: the document is 3.0.0 on
# purpose. No usage data leaves the machine and nothing is fetched: the CLI
# reads its analytics setting from ASYNCAPI_METRICS_CONFIG_PATH (disabled in
# the file below) and skips its update check with
# ASYNCAPI_SKIP_NEW_VERSION_CHECK.
ASYNCAPI := $(NPM_DIR)/node_modules/.bin/asyncapi
ASYNCAPI_ANALYTICS := $(TOOLS_ROOT)/.cache/asyncapi-analytics.json

$(ASYNCAPI_ANALYTICS):
	@mkdir -p $(dir $@)
	@echo '{"analyticsEnabled":"false","infoMessageShown":"true","userID":"ticketsys-make"}' > $@

asyncapi-lint: $(NPM_STAMP) $(ASYNCAPI_ANALYTICS) ## asyncapi validate of the event stream's AsyncAPI description (api/asyncapi)
	cd $(TOOLS_ROOT) && ASYNCAPI_METRICS_CONFIG_PATH=$(ASYNCAPI_ANALYTICS) ASYNCAPI_SKIP_NEW_VERSION_CHECK=true \
		$(ASYNCAPI) validate api/asyncapi/tickets.yaml --fail-severity warn --suppressWarnings asyncapi-latest-version

# promtool, pinned in tools/promtool/go.mod (a module of its own: Prometheus'
# dependencies are many and must not move the other tools'), checks the alert
# rules and runs their unit tests (deploy/monitoring).
PROMTOOL := $(TOOLS_BIN)/promtool

$(PROMTOOL): $(TOOLS_ROOT)/tools/promtool/go.mod $(TOOLS_ROOT)/tools/promtool/go.sum
	GOWORK=off $(GO) -C $(TOOLS_ROOT)/tools/promtool build -o $@ github.com/prometheus/prometheus/cmd/promtool

# check config also loads the rule files prometheus.yml names (compose's
# observability profile), as the container reads them.
rules-test: $(PROMTOOL) ## promtool check rules, test rules and check config (deploy/monitoring)
	cd $(TOOLS_ROOT)/deploy/monitoring && $(PROMTOOL) check rules ticketsys.rules.yaml && \
		$(PROMTOOL) test rules ticketsys.rules_test.yaml && \
		$(PROMTOOL) check config prometheus.yml

# golangci-lint v2 works on one module at a time; run it in each module of the
# workspace, report every failing module, then fail.
lint: $(GOLANGCI_LINT) proto-lint vuln openapi-lint asyncapi-lint rules-test ## golangci-lint, buf lint, govulncheck, redocly lint, asyncapi validate, promtool rule tests, deploy-validate and modules-check
	@status=0; for m in $(MODULES); do \
		echo "golangci-lint run ./... in $$m"; \
		(cd "$$m" && $(GOLANGCI_LINT) run --config $(TOOLS_ROOT)/.golangci.yml ./...) || status=1; \
	done; exit $$status
