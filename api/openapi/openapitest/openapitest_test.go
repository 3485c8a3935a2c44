package openapitest_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/api/openapi/openapitest"
)

const (
	id         = "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11"
	ticketJSON = `{"id":"` + id + `","title":"t","description":"","status":"open","priority":"medium",` +
		`"assignee":"","reporter":"bob","tags":[],"version":2,` +
		`"created_at":"2026-11-26T10:00:00.123456Z","updated_at":"2026-11-26T10:00:00.123456Z"}`
	problemJSON = `{"type":"about:blank","title":"Not Found","status":404,"detail":"x","instance":"/x"}`
)

func hdr(kv ...string) http.Header {
	h := http.Header{"X-Request-Id": {"rid-1"}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			h.Del(kv[i])
			continue
		}
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// The validator accepts what the services answer and refuses each kind of
// drift: a status, header or body the description does not have.
func TestValidate(t *testing.T) {
	t.Parallel()
	cmd, q := openapitest.Command(t), openapitest.Query(t)
	json, prob := "application/json", "application/problem+json"
	cases := []struct {
		name    string
		v       *openapitest.Validator
		method  string
		target  string
		status  int
		header  http.Header
		body    string
		wantErr string // "" when valid
	}{
		{"ticket", q, "GET", "/tickets/" + id, 200, hdr("Content-Type", json, "ETag", `"2"`, "X-Cache", "HIT"), ticketJSON, ""},
		{"no ETag", q, "GET", "/tickets/" + id, 200, hdr("Content-Type", json, "X-Cache", "HIT"), ticketJSON, `"ETag" missing`},
		{"bad X-Cache", q, "GET", "/tickets/" + id, 200, hdr("Content-Type", json, "ETag", `"2"`, "X-Cache", "WARM"), ticketJSON, "X-Cache"},
		{"no request id", q, "GET", "/tickets/" + id, 200,
			hdr("Content-Type", json, "ETag", `"2"`, "X-Cache", "HIT", "X-Request-ID", ""), ticketJSON, "X-Request-ID"},
		{"extra field", q, "GET", "/tickets/" + id, 200, hdr("Content-Type", json, "ETag", `"2"`, "X-Cache", "MISS"),
			strings.Replace(ticketJSON, `"tags":[]`, `"tags":[],"secret":1`, 1), "doesn't match schema"},
		{"wrong media type", q, "GET", "/tickets/" + id, 200, hdr("Content-Type", "text/html", "ETag", `"2"`, "X-Cache", "HIT"),
			ticketJSON, "Content-Type"},
		{"undocumented status", q, "GET", "/tickets/" + id, 418, hdr("Content-Type", prob), problemJSON, "status is not supported"},
		{"304", q, "GET", "/tickets/" + id, 304, hdr("ETag", `"2"`, "X-Cache", "HIT"), "", ""},
		{"304 without ETag", q, "GET", "/tickets/" + id, 304, hdr("X-Cache", "HIT"), "", `"ETag" missing`},
		{"HEAD", q, "HEAD", "/tickets", 200, hdr("Content-Type", json, "X-Cache", "MISS"), "", ""},
		{"HEAD without X-Cache", q, "HEAD", "/tickets", 200, hdr("Content-Type", json), "", `"X-Cache" missing`},
		{"created", cmd, "POST", "/tickets", 201,
			hdr("Content-Type", json, "ETag", `"1"`, "Location", "/tickets/"+id), strings.Replace(ticketJSON, `"version":2`, `"version":1`, 1), ""},
		{"created without Location", cmd, "POST", "/tickets", 201,
			hdr("Content-Type", json, "ETag", `"1"`), ticketJSON, `"Location" missing`},
		{"503 without Retry-After", cmd, "POST", "/tickets", 503, hdr("Content-Type", prob),
			strings.Replace(problemJSON, "404", "503", 1), `"Retry-After" missing`},
		{"401 without a challenge", cmd, "DELETE", "/tickets/" + id, 401, hdr("Content-Type", prob),
			strings.Replace(problemJSON, "404", "401", 1), `"WWW-Authenticate" missing`},
		{"deleted", cmd, "DELETE", "/tickets/" + id, 204, hdr(), "", ""},
		{"a body on 204", cmd, "DELETE", "/tickets/" + id, 204, hdr(), "{}", "a body of 2 bytes"},
		{"unknown path", cmd, "GET", "/nope?x=1", 404, hdr("Content-Type", prob), problemJSON, ""},
		{"unknown path, 200", cmd, "GET", "/nope", 200, hdr("Content-Type", json), "{}", "no path of the description"},
		{"unknown path, not a problem", q, "GET", "/tickets/" + id + "/x", 404, hdr("Content-Type", json), problemJSON, "problem+json"},
		{"encoded slash is no id", q, "GET", "/tickets/a%2Fb", 404, hdr("Content-Type", prob), problemJSON, ""},
		{"405", q, "POST", "/tickets", 405, hdr("Content-Type", prob, "Allow", "GET, HEAD"),
			strings.Replace(problemJSON, "404", "405", 1), ""},
		{"405 without Allow", q, "DELETE", "/tickets/" + id, 405, hdr("Content-Type", prob),
			strings.Replace(problemJSON, "404", "405", 1), "Allow"},
		{"405 with a bad body", q, "PUT", "/healthz", 405, hdr("Content-Type", prob, "Allow", "GET"), `{"error":"no"}`, "Problem schema"},
		{"not a request-target", q, "GET", "*", 400, hdr(), "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.v.ValidateTarget(tc.method, tc.target, tc.status, tc.header, []byte(tc.body))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("accepted, want an error about %s", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("error %q, want one about %s", err, tc.wantErr)
			}
		})
	}
}

// A client request with an opaque URL is matched by what it sent.
func TestValidateOpaqueRequest(t *testing.T) {
	t.Parallel()
	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = "/redis-health"
	body := `{"status":"ok","latency_ms":0.41}`
	if err := openapitest.Query(t).Validate(req, 200, hdr("Content-Type", "application/json; charset=utf-8"), []byte(body)); err != nil {
		t.Fatal(err)
	}
}

// capture is a testing.TB that keeps the errors instead of failing.
type capture struct {
	testing.TB
	errs []string
}

func (c *capture) Helper()                   {}
func (c *capture) Error(args ...any)         { c.errs = append(c.errs, fmt.Sprint(args...)) }
func (c *capture) Errorf(f string, a ...any) { c.errs = append(c.errs, fmt.Sprintf(f, a...)) }

// CheckRoutes finds a route the description lacks and an operation no route
// serves, and accepts the command service's routes as they are.
func TestCheckRoutes(t *testing.T) {
	t.Parallel()
	routes := gin.RoutesInfo{
		{Method: "POST", Path: "/tickets"}, {Method: "PUT", Path: "/tickets/:id"}, {Method: "PATCH", Path: "/tickets/:id"},
		{Method: "DELETE", Path: "/tickets/:id"}, {Method: "GET", Path: "/healthz"}, {Method: "GET", Path: "/readyz"},
		{Method: "GET", Path: "/metrics"}, {Method: "GET", Path: "/openapi.yaml"},
	}
	c := &capture{TB: t}
	openapitest.Command(t).CheckRoutes(c, routes)
	if len(c.errs) != 0 {
		t.Fatalf("the command service's routes refused: %v", c.errs)
	}
	drifted := append(gin.RoutesInfo{{Method: "GET", Path: "/tickets/:id"}}, routes[1:]...)
	openapitest.Command(t).CheckRoutes(c, drifted)
	want := []string{
		"the service serves GET /tickets/{id}, which command.yaml (api/openapi) does not describe",
		"command.yaml (api/openapi) describes POST /tickets, which the service does not serve",
	}
	if !slices.Equal(c.errs, want) {
		t.Fatalf("errors %q, want %q", c.errs, want)
	}
}
