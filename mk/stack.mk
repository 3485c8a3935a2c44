# mk/stack.mk: the local stack in containers, and the deployment checks.
# Included from the top Makefile; also usable alone: make -f mk/stack.mk deploy-validate
#
#   make up               docker compose up --build, waits until every service is healthy
#   make down             stops the containers (the data volumes stay)
#   make down-volumes     stops them and deletes Postgres' and NATS' data
#   make logs             follows every container's log
#   make deploy-validate  compose file, Dockerfiles, Caddyfile (caddy validate) and the
#                         Kubernetes manifests, checked without Docker or a cluster (part of lint)
#   make deploy-render    prints the rendered manifests: OVERLAY=production (default) or base
#   make caddy            builds the pinned Caddy (the front door of make dev) into .cache/bin
#
# `make dev` itself (cmd/devstack) builds Caddy and nats-server on first use.

GO ?= go
STACK_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
STACK_BIN := $(STACK_ROOT)/.cache/bin
COMPOSE ?= docker compose
OVERLAY ?= production
# Keep in step with cmd/devstack and deploy/caddy/Dockerfile (a test checks
# that those two agree).
CADDY_VERSION ?= v2.11.9

.PHONY: up down down-volumes logs deploy-validate deploy-render caddy

# A clear line instead of "docker: command not found" three lines down.
define need_compose
	@$(COMPOSE) version >/dev/null 2>&1 || { \
		echo "make: '$(COMPOSE)' does not run: install Docker with the compose plugin (https://docs.docker.com/compose/install/), or use make dev"; \
		exit 1; }
endef

up: ## the stack in containers (Docker): front door on http://127.0.0.1:8000
	$(need_compose)
	cd $(STACK_ROOT) && $(COMPOSE) up --build --detach --wait
	@echo "up: http://127.0.0.1:8000 (GET/HEAD -> query, other methods -> command)"
	@echo "up: a token: docker compose exec command ticketctl token --sub dev --scope 'tickets:read tickets:write'"

down: ## stop the containers (Postgres and NATS data stay in their volumes)
	$(need_compose)
	cd $(STACK_ROOT) && $(COMPOSE) down

down-volumes: ## stop the containers and delete their data
	$(need_compose)
	cd $(STACK_ROOT) && $(COMPOSE) down --volumes

logs: ## follow the containers' logs
	$(need_compose)
	cd $(STACK_ROOT) && $(COMPOSE) logs --follow

# kubeconform would want its JSON schemas from the internet; deploy/kube
# decodes strictly into k8s.io/api instead (see its package comment).
deploy-validate: caddy ## check docker-compose.yml, the Dockerfiles, the Caddyfile and deploy/k8s without Docker or a cluster
	cd $(STACK_ROOT)/deploy && $(GO) test -count=1 ./...
	@# The Caddyfile through Caddy's own adapter and provisioning, as the pinned
	@# release runs it (deploy/nats configs go through nats-server's own parser
	@# in deploy/nats's tests above).
	cd $(STACK_ROOT) && $(STACK_BIN)/caddy validate --config deploy/caddy/Caddyfile --adapter caddyfile

deploy-render: ## print the Kubernetes manifests of OVERLAY (production or base)
	@dir=$(STACK_ROOT)/deploy/k8s/overlays/$(OVERLAY); [ "$(OVERLAY)" != base ] || dir=$(STACK_ROOT)/deploy/k8s/base; \
		cd $(STACK_ROOT)/deploy && $(GO) run ./cmd/render "$$dir"

# Rebuilt when the binary there is another version (its build info says which).
caddy: ## build the pinned Caddy into .cache/bin
	@$(GO) version -m $(STACK_BIN)/caddy 2>/dev/null | grep -Eq 'mod[[:space:]]+github.com/caddyserver/caddy/v2[[:space:]]+$(CADDY_VERSION)[[:space:]]' || \
		{ echo "building caddy $(CADDY_VERSION) into .cache/bin (a few minutes)"; \
		  GOBIN=$(STACK_BIN) GOWORK=off $(GO) install github.com/caddyserver/caddy/v2/cmd/caddy@$(CADDY_VERSION); }
