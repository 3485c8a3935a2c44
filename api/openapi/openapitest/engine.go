package openapitest

import (
	"context"
	"log/slog"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/httpx"
)

// Secret is the HS256 key of OpsEngine's verifier, for tests that sign tokens.
const Secret = "openapi-test-secret-of-at-least-32-bytes"

// OpsEngine is the engine a service's internal/service builds before its
// ticket routes: the shared middleware, the probes and /metrics, with a
// Postgres check that always passes. A service's test adds its routes to it
// with the verifier and logger returned.
func OpsEngine(t testing.TB) (*gin.Engine, *auth.Verifier, *slog.Logger) {
	t.Helper()
	v, err := auth.NewVerifier(auth.Config{JWTSecret: Secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	log := slog.New(slog.DiscardHandler)
	reg := prometheus.NewRegistry()
	m, err := httpx.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	e := httpx.NewEngine(log, m)
	httpx.RegisterOps(e, reg, httpx.Check{Name: "postgres", Fn: func(context.Context) error { return nil }})
	return e, v, log
}
