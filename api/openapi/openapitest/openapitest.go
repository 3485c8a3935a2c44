// Package openapitest loads the services' OpenAPI descriptions (package
// openapi) as validated kin-openapi documents, and checks HTTP responses
// against them for the test harnesses: every response a test suite gets
// goes through Validator.Check, or a Recorder that validates at the end of
// the test, so a status, header or body that the description does not have
// fails the test that saw it. CheckRoutes compares a router with the paths.
//
// kin-openapi's openapi3filter validates a matched operation's response:
// its status must be documented, its required headers present and valid,
// its body of a documented media type and schema. This package adds what
// openapi3filter leaves out: HEAD responses and 304s (their headers), a
// body where the description has none, and requests that match no
// operation (the 404 or 405 problem every service answers them with).
package openapitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/ticketsys/ticketsys/api/openapi"
)

// Validator checks responses against one service's description.
type Validator struct {
	name   string
	doc    *openapi3.T
	router routers.Router
}

// LoadCommand parses and validates the command service's description,
// api/openapi/command.yaml.
func LoadCommand() (*openapi3.T, error) { return Load("command.yaml", openapi.Command()) }

// LoadQuery parses and validates the query service's description,
// api/openapi/query.yaml.
func LoadQuery() (*openapi3.T, error) { return Load("query.yaml", openapi.Query()) }

// Load parses an OpenAPI 3.1 description, resolves its references (all
// within the document: it may refer to no other file) and validates it,
// its examples included. name is for messages.
func Load(name string, data []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.IsOpenAPI32OrLater() {
		return nil, fmt.Errorf("%s is OpenAPI %s, want 3.1", name, doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableExamplesValidation(), openapi3.EnableMultiError()); err != nil {
		return nil, fmt.Errorf("validate %s: %w", name, err)
	}
	return doc, nil
}

var (
	command = sync.OnceValues(func() (*Validator, error) { return load("command", LoadCommand) })
	query   = sync.OnceValues(func() (*Validator, error) { return load("query", LoadQuery) })
)

// Command returns the validator of the command service's description,
// failing t when the description does not load.
func Command(t testing.TB) *Validator {
	t.Helper()
	v, err := command()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Query returns the validator of the query service's description, failing
// t when the description does not load.
func Query(t testing.TB) *Validator {
	t.Helper()
	v, err := query()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func load(name string, loadDoc func() (*openapi3.T, error)) (*Validator, error) {
	doc, err := loadDoc()
	if err != nil {
		return nil, err
	}
	// Routes are matched on the path alone: the servers name hosts (the
	// service's own address, the front door's) that a test's server has not.
	local := *doc
	local.Servers = nil
	router, err := gorillamux.NewRouter(&local)
	if err != nil {
		return nil, fmt.Errorf("route %s.yaml: %w", name, err)
	}
	return &Validator{name: name, doc: doc, router: router}, nil
}

// Check validates one response and fails t (with Errorf, so it may be
// called from any goroutine) when it does not match the description.
func (v *Validator) Check(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	if err := v.Validate(req, status, header, body); err != nil {
		t.Errorf("%v", err)
	}
}

// Validate returns why a response to req does not match the description,
// or nil. req is the request as the client sent it (only its method and
// URL are read); body is the whole response body.
func (v *Validator) Validate(req *http.Request, status int, header http.Header, body []byte) error {
	return v.ValidateTarget(req.Method, requestTarget(req), status, header, body)
}

// ValidateTarget is Validate for a request given by its method and its
// request-target, the path and query as sent ("/tickets?limit=5").
func (v *Validator) ValidateTarget(method, target string, status int, header http.Header, body []byte) error {
	if err := v.validate(method, target, status, header, body); err != nil {
		return &MismatchError{Service: v.name, Method: method, Target: target, Status: status, Err: err}
	}
	return nil
}

// MismatchError is a response that does not match the description.
type MismatchError struct {
	Service        string // command or query: the description is Service.yaml
	Method, Target string // the request
	Status         int    // the response's
	Err            error  // what does not match
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("the response %d to %s %s does not match %s.yaml (api/openapi): %v",
		e.Status, e.Method, shorten(e.Target), e.Service, e.Err)
}

func (e *MismatchError) Unwrap() error { return e.Err }

func (v *Validator) validate(method, target string, status int, header http.Header, body []byte) error {
	// Match the route as the service did: gin routes the decoded path.
	u, err := url.ParseRequestURI(target)
	if err != nil || !strings.HasPrefix(target, "/") {
		// Not a request-target the service could route: net/http answered it.
		return nil //nolint:nilerr // nothing of the description's to check
	}
	routed := &http.Request{Method: method, URL: &url.URL{Path: u.Path, RawQuery: u.RawQuery},
		Header: http.Header{}, Body: http.NoBody}
	routed = routed.WithContext(context.Background())

	route, params, err := v.router.FindRoute(routed)
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		return v.unrouted(http.StatusNotFound, method, status, header, body)
	case errors.Is(err, routers.ErrMethodNotAllowed):
		return v.unrouted(http.StatusMethodNotAllowed, method, status, header, body)
	case err != nil:
		return fmt.Errorf("find the operation: %w", err)
	}

	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: routed, PathParams: params, Route: route,
		},
		Status:  status,
		Header:  header,
		Options: options(),
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(routed.Context(), in); err != nil {
		return err
	}
	// What ValidateResponse skips: HEAD, 304, and bodies nothing describes.
	resp := route.Operation.Responses.Status(status)
	if resp == nil || resp.Value == nil {
		return errors.New("status is not supported")
	}
	if method == http.MethodHead || status == http.StatusNotModified {
		if err := checkHeaders(resp.Value.Headers, header); err != nil {
			return err
		}
	}
	if len(resp.Value.Content) == 0 && len(body) > 0 {
		return fmt.Errorf("a body of %d bytes where the description has none", len(body))
	}
	return nil
}

// options make every undocumented status an error, and keep schema errors
// to one line each: the reason and where in the body, without the schema
// and the whole value.
func options() *openapi3filter.Options {
	o := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	o.WithCustomSchemaErrorFunc(schemaError)
	return o
}

func schemaError(err *openapi3.SchemaError) string {
	// The JSON Schema 2020-12 validator's reason is a headline naming its
	// made-up schema URL, then one "- at '/pointer': what" line per failure.
	var parts []string
	for _, line := range strings.Split(err.Reason, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "-"))
		if line == "" || strings.Contains(line, "jsonschema validation failed with") {
			continue
		}
		parts = append(parts, line)
	}
	if len(parts) > 0 && strings.HasPrefix(parts[0], "at '") {
		return strings.Join(parts, "; ")
	}
	return fmt.Sprintf("at '/%s': %s", strings.Join(err.JSONPointer(), "/"), strings.TrimSpace(err.Reason))
}

// unrouted checks the answer to a request that matches no operation: the
// service must answer want (404 for an unknown path, 405 with Allow for a
// known path and another method) as a problem with X-Request-ID.
func (v *Validator) unrouted(want int, method string, status int, header http.Header, body []byte) error {
	if status != want {
		what := "no path of the description matches it"
		if want == http.StatusMethodNotAllowed {
			what = "the description has no " + method + " operation on this path"
		}
		return fmt.Errorf("%s, so the answer must be %d", what, want)
	}
	if want == http.StatusMethodNotAllowed && header.Get("Allow") == "" {
		return errors.New("a 405 without Allow")
	}
	if err := checkHeaders(openapi3.Headers{"X-Request-ID": v.doc.Components.Headers["X-Request-ID"]}, header); err != nil {
		return err
	}
	if method == http.MethodHead {
		return nil
	}
	if ct := header.Get("Content-Type"); ct != "application/problem+json" {
		return fmt.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	return v.checkProblem(body)
}

func (v *Validator) checkProblem(body []byte) error {
	ref := v.doc.Components.Schemas["Problem"]
	if ref == nil || ref.Value == nil {
		return errors.New("the description has no Problem schema")
	}
	value, err := openapi3filter.JSONBodyDecoder(bytes.NewReader(body), nil, ref, nil)
	if err != nil {
		return fmt.Errorf("the body is not JSON: %w", err)
	}
	if err := ref.Value.VisitJSON(value, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse(),
		openapi3.SetSchemaErrorMessageCustomizer(schemaError)); err != nil {
		return fmt.Errorf("the body does not match the Problem schema: %w", err)
	}
	return nil
}

// checkHeaders checks response headers against those a response
// documents: the required ones present, each one present valid.
func checkHeaders(documented openapi3.Headers, header http.Header) error {
	names := make([]string, 0, len(documented))
	for name := range documented {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ref := documented[name]
		if ref == nil || ref.Value == nil {
			return fmt.Errorf("the description's header %s is not resolved", name)
		}
		h := ref.Value
		values := header.Values(name)
		if len(values) == 0 {
			if h.Required {
				return fmt.Errorf("response header %q missing", name)
			}
			continue
		}
		if h.Schema == nil || h.Schema.Value == nil {
			continue
		}
		var value any = values[0]
		if h.Schema.Value.Type.Is("integer") || h.Schema.Value.Type.Is("number") {
			n, err := strconv.ParseFloat(values[0], 64)
			if err != nil {
				return fmt.Errorf("response header %q: %q is not a number", name, values[0])
			}
			value = n
		}
		if err := h.Schema.Value.VisitJSON(value, openapi3.EnableJSONSchema2020(),
			openapi3.SetSchemaErrorMessageCustomizer(schemaError)); err != nil {
			return fmt.Errorf("response header %q doesn't match schema: %w", name, err)
		}
	}
	return nil
}

// requestTarget is the request-target req was sent with: its opaque form
// when it has one, else its escaped path and query.
func requestTarget(req *http.Request) string {
	if req.URL == nil {
		return ""
	}
	if req.URL.Opaque != "" && strings.HasPrefix(req.URL.Opaque, "/") {
		t := req.URL.Opaque
		if req.URL.RawQuery != "" || req.URL.ForceQuery {
			t += "?" + req.URL.RawQuery
		}
		return t
	}
	return req.URL.RequestURI()
}

// shorten keeps a request-target readable in a message.
func shorten(target string) string {
	if len(target) > 200 {
		return fmt.Sprintf("%s... (%d bytes)", target[:200], len(target))
	}
	return target
}
