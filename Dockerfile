# syntax=docker/dockerfile:1
# One image recipe for every service; SERVICE names which one:
#   docker build --build-arg SERVICE=query -t ticketsys/query .
# The service binary is the entrypoint (/usr/local/bin/service); ticketctl
# rides along for `docker compose exec command ticketctl ...`, and httpprobe
# is the healthcheck, since the final image has no shell, curl or wget.
# deploy/stack checks this file against docker-compose.yml.
# Not pinned by digest (a named exception in deploy/stack/images_test.go): no
# public project pins golang:1.27.3-bookworm by digest yet, and the nearest
# that is, 1.27.2, lacks the crypto/x509 fix (GO-2026-6809) of 1.27.3, the
# toolchain the Makefile builds and runs govulncheck with.
ARG GO_VERSION=1.27.3

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# The module files first, so the download layer is reused until a dependency
# changes, and shared by every service's image.
COPY go.mod go.sum ./
COPY client/go.mod client/go.sum ./client/
RUN go mod download
COPY . .
ARG SERVICE
# What --version and ticketsys_build_info report (.git is not in the context).
ARG VERSION=devel
# Static (no cgo), without local paths.
RUN --mount=type=cache,target=/root/.cache/go-build \
    test -d "services/${SERVICE}" && \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X github.com/ticketsys/ticketsys/pkg/buildinfo.version=${VERSION}" \
      -o /out/ ./services/${SERVICE} ./cmd/ticketctl ./cmd/httpprobe && \
    mv "/out/${SERVICE}" /out/service

# gcr.io/distroless/static-debian12:nonroot, multi-arch index digest as pinned
# by public projects.
FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
COPY --from=build /out/service /out/ticketctl /out/httpprobe /usr/local/bin/
# distroless's nonroot user, by number so runAsNonRoot can verify it.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/service"]
