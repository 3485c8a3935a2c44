package ticketapi_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/api/openapi"
	"github.com/ticketsys/ticketsys/api/openapi/openapitest"
	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/services/query/internal/cursor"
	"github.com/ticketsys/ticketsys/services/query/internal/ticketapi"
)

// newEngine wires the routes as the service does (internal/service): the
// shared engine, the probes and metrics, then ticketapi.Routes. No request
// here reaches the queries or Redis, so there are none.
func newEngine(t *testing.T) *gin.Engine {
	t.Helper()
	e, v, log := openapitest.OpsEngine(t)
	codec := cursor.NewCodec([]byte("openapi-test-cursor-key-of-32-bytes!"))
	ticketapi.Routes(e, nil, codec, nil, v, log, httpx.Limit(8, time.Second))
	return e
}

// Neither the routes nor the description has a path or method the other lacks.
func TestRoutesMatchTheDescription(t *testing.T) {
	t.Parallel()
	openapitest.Query(t).CheckRoutes(t, newEngine(t).Routes())
}

// GET /openapi.yaml serves query.yaml as it is, without a token.
func TestServesItsDescription(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/openapi.yaml", nil)
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/yaml" {
		t.Fatalf("GET /openapi.yaml: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if !bytes.Equal(rec.Body.Bytes(), openapi.Query()) {
		t.Error("GET /openapi.yaml is not api/openapi/query.yaml")
	}
	openapitest.Query(t).Check(t, req, rec.Code, rec.Header(), rec.Body.Bytes())
}
