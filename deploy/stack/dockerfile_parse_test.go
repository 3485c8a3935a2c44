package stack

import (
	"slices"
	"strings"
	"testing"
)

func TestParseDockerfile(t *testing.T) {
	t.Parallel()
	df, err := ParseDockerfile(strings.NewReader(`# syntax=docker/dockerfile:1
ARG GO_VERSION=1.26.8
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
COPY go.work ./
RUN --mount=type=cache,target=/root/.cache/go-build \
    # a comment inside a continuation, which Docker drops
    apt-get update && CGO_ENABLED=0 go build -trimpath \
      -o /out/ ./services/query ./cmd/x/

FROM scratch
COPY --from=build /out/query /
USER 65532
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(df.Args) != 1 || len(df.Stages) != 2 {
		t.Fatalf("args %v, stages %d", df.Args, len(df.Stages))
	}
	build, ok := df.Stage("build")
	if !ok || build.From != "golang:${GO_VERSION}" {
		t.Fatalf("build stage = %+v", build)
	}
	gb := GoBuilds(build)
	if len(gb) != 1 || !slices.Equal(gb[0].Packages, []string{"./services/query", "./cmd/x"}) ||
		!slices.Equal(gb[0].Env, []string{"CGO_ENABLED=0"}) || !slices.Contains(gb[0].Flags, "-trimpath") {
		t.Errorf("GoBuilds = %+v", gb)
	}
	if got := CopiedSources(build); !slices.Equal(got, []string{"go.work"}) {
		t.Errorf("CopiedSources(build) = %v", got)
	}
	if got := CopiedSources(df.Final()); len(got) != 0 {
		t.Errorf("CopiedSources(final) = %v, want none (a --from copy)", got)
	}
	if df.Final().From != "scratch" || df.Final().Last("USER") != "65532" {
		t.Errorf("final = %+v", df.Final())
	}
}

func TestParseDockerfileRejects(t *testing.T) {
	t.Parallel()
	for name, text := range map[string]string{
		"empty":             "# nothing\n",
		"instruction first": "RUN true\nFROM scratch\n",
		"unfinished":        "FROM scratch\nRUN true \\\n",
		"heredoc":           "FROM scratch\nRUN <<EOF\ntrue\nEOF\n",
		"unreadable FROM":   "FROM a b\n",
		"custom escape":     "# escape=`\nFROM scratch\n",
	} {
		if _, err := ParseDockerfile(strings.NewReader(text)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}
