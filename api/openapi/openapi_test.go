package openapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/ticketsys/ticketsys/api/openapi"
	"github.com/ticketsys/ticketsys/api/openapi/openapitest"
)

// service is one description and what the contract promises of it.
type service struct {
	name  string
	doc   *openapi3.T
	raw   []byte
	scope string
	// errors are the statuses of the contract's error table that the
	// service's /tickets operations answer, at least once across them.
	errors []int
}

func services(t *testing.T) []service {
	t.Helper()
	cmd, err := openapitest.LoadCommand()
	if err != nil {
		t.Fatal(err)
	}
	q, err := openapitest.LoadQuery()
	if err != nil {
		t.Fatal(err)
	}
	return []service{
		{"command", cmd, openapi.Command(), "tickets:write", []int{400, 401, 403, 404, 409, 412, 413, 415, 422, 503}},
		{"query", q, openapi.Query(), "tickets:read", []int{400, 401, 403, 404, 503}},
	}
}

func TestDescriptionsAreOpenAPI31(t *testing.T) {
	t.Parallel()
	for _, s := range services(t) {
		if s.doc.OpenAPI != "3.1.0" {
			t.Errorf("%s: openapi %q, want 3.1.0", s.name, s.doc.OpenAPI)
		}
		if !bytes.Contains(s.raw, []byte("Written by hand")) {
			t.Errorf("%s.yaml lost the comment that says it is written by hand", s.name)
		}
	}
}

// The same component in both files is written twice (each file stands
// alone), and must be the same.
func TestSharedComponentsAreIdentical(t *testing.T) {
	t.Parallel()
	ss := services(t)
	a, b := ss[0].doc.Components, ss[1].doc.Components
	shared := 0
	compare := func(kind string, x, y map[string]any) {
		for name, vx := range x {
			vy, ok := y[name]
			if !ok {
				continue
			}
			shared++
			jx, jy := mustJSON(t, vx), mustJSON(t, vy)
			if !bytes.Equal(jx, jy) {
				t.Errorf("components/%s/%s differs between command.yaml and query.yaml: make them identical, "+
					"or give the service's own one another name\ncommand: %s\nquery:   %s", kind, name, jx, jy)
			}
		}
	}
	compare("schemas", anyMap(a.Schemas), anyMap(b.Schemas))
	compare("responses", anyMap(a.Responses), anyMap(b.Responses))
	compare("parameters", anyMap(a.Parameters), anyMap(b.Parameters))
	compare("headers", anyMap(a.Headers), anyMap(b.Headers))
	compare("requestBodies", anyMap(a.RequestBodies), anyMap(b.RequestBodies))
	compare("securitySchemes", anyMap(a.SecuritySchemes), anyMap(b.SecuritySchemes))
	if shared < 20 {
		t.Errorf("only %d components are shared; Ticket, Problem and the rest went missing?", shared)
	}
	for _, name := range []string{"Ticket", "Problem", "FieldError"} {
		if a.Schemas[name] == nil || b.Schemas[name] == nil {
			t.Errorf("schema %s is not in both descriptions", name)
		}
	}
}

// What the contract promises of every response, checked on the description
// itself (the validator then checks the code against it).
func TestResponsesCarryTheContractHeaders(t *testing.T) {
	t.Parallel()
	for _, s := range services(t) {
		seen := map[int]bool{}
		for path, item := range s.doc.Paths.Map() {
			for method, op := range item.Operations() {
				where := fmt.Sprintf("%s: %s %s", s.name, method, path)
				tickets := strings.HasPrefix(path, "/tickets")
				checkSecurity(t, where, s, op, tickets)
				for code, ref := range op.Responses.Map() {
					status, err := strconv.Atoi(code)
					if err != nil {
						t.Errorf("%s: response %q: only explicit statuses, no ranges or default", where, code)
						continue
					}
					if tickets {
						seen[status] = true
					}
					checkResponse(t, fmt.Sprintf("%s %d", where, status), status, ref.Value, tickets)
				}
				if tickets {
					for _, want := range []int{401, 403, 500, 503} {
						if op.Responses.Status(want) == nil {
							t.Errorf("%s: no %d", where, want)
						}
					}
				}
			}
		}
		for _, want := range s.errors {
			if !seen[want] {
				t.Errorf("%s: no /tickets operation answers %d, which the contract's error table has", s.name, want)
			}
		}
	}
}

func checkSecurity(t *testing.T, where string, s service, op *openapi3.Operation, tickets bool) {
	t.Helper()
	switch {
	case tickets && op.Security != nil:
		t.Errorf("%s: sets its own security; the document's (bearer, %s) is the one", where, s.scope)
	case tickets:
		want := openapi3.SecurityRequirements{{"bearerAuth": {s.scope}}}
		if got := s.doc.Security; !slices.EqualFunc(got, want, func(a, b openapi3.SecurityRequirement) bool {
			return fmt.Sprint(a) == fmt.Sprint(b)
		}) {
			t.Errorf("%s: document security %v, want %v", where, got, want)
		}
	case op.Security == nil || len(*op.Security) != 0:
		t.Errorf("%s: needs no token, so its security must be []", where)
	}
}

func checkResponse(t *testing.T, where string, status int, r *openapi3.Response, tickets bool) {
	t.Helper()
	required := func(name string) {
		h := r.Headers[name]
		if h == nil || h.Value == nil || !h.Value.Required {
			t.Errorf("%s: header %s is not declared as required", where, name)
		}
	}
	required("X-Request-ID")
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		required("WWW-Authenticate")
	case status == http.StatusServiceUnavailable && tickets:
		required("Retry-After")
	case status == http.StatusOK && tickets && r.Content.Get("application/json") != nil &&
		r.Content.Get("application/json").Schema.Ref == "#/components/schemas/Ticket":
		required("ETag")
	}
	if status >= 400 && tickets {
		mt := r.Content.Get("application/problem+json")
		if len(r.Content) != 1 || mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Problem" {
			t.Errorf("%s: an error of /tickets must be application/problem+json with the Problem schema", where)
		}
	}
}

// Every operation has an example of each error body it describes, so that
// redocly's example checks and the reference page have something to show.
func TestErrorResponsesHaveExamples(t *testing.T) {
	t.Parallel()
	for _, s := range services(t) {
		names := make([]string, 0, len(s.doc.Components.Responses))
		for name := range s.doc.Components.Responses {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			r := s.doc.Components.Responses[name].Value
			mt := r.Content.Get("application/problem+json")
			if mt != nil && len(mt.Examples) == 0 {
				t.Errorf("%s: components/responses/%s has no example", s.name, name)
			}
		}
	}
}

func anyMap[V any](m map[string]V) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
