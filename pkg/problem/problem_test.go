package problem_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/pkg/problem"
)

func serve(t *testing.T, h gin.HandlerFunc, setup func(*gin.Context)) (*httptest.ResponseRecorder, problem.Problem) {
	t.Helper()
	gin.SetMode(gin.TestMode)
	e := gin.New()
	after := false
	e.GET("/x/:id", func(c *gin.Context) {
		if setup != nil {
			setup(c)
		}
		c.Next()
	}, h, func(c *gin.Context) { after = true })
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x/1?token=secret", nil))
	if after {
		t.Error("the handler after the problem ran: the chain must be aborted")
	}
	var p problem.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("decode problem %s: %v", rec.Body.String(), err)
	}
	return rec, p
}

func TestWriteDefaults(t *testing.T) {
	t.Parallel()
	rec, p := serve(t, func(c *gin.Context) { problem.NotFound(c, "no such ticket") }, nil)
	if rec.Code != http.StatusNotFound {
		t.Errorf("status %d, want %d", rec.Code, http.StatusNotFound)
	}
	if got := rec.Header().Get("Content-Type"); got != problem.ContentType {
		t.Errorf("Content-Type %q, want %q", got, problem.ContentType)
	}
	want := problem.Problem{
		Type: "about:blank", Title: "Not Found", Status: 404, Detail: "no such ticket", Instance: "/x/1",
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("problem %+v, want %+v", p, want)
	}
	if strings.Contains(rec.Body.String(), "errors") {
		t.Errorf("body %s has errors, want none", rec.Body.String())
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	errs := []problem.FieldError{{Field: "title", Message: "must not be empty"}}
	rec, p := serve(t, func(c *gin.Context) { problem.Validation(c, errs) }, nil)
	if rec.Code != http.StatusUnprocessableEntity {
		t.Errorf("status %d, want %d", rec.Code, http.StatusUnprocessableEntity)
	}
	if p.Type != problem.TypeValidation {
		t.Errorf("type %q, want %q", p.Type, problem.TypeValidation)
	}
	if want := "Validation failed"; p.Title != want {
		t.Errorf("title %q, want %q", p.Title, want)
	}
	if !reflect.DeepEqual(p.Errors, errs) {
		t.Errorf("errors %+v, want %+v", p.Errors, errs)
	}
	if want := `"errors":[{"field":"title","message":"must not be empty"}]`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("body %s lacks %s", rec.Body.String(), want)
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		setup  func(*gin.Context)
		write  gin.HandlerFunc
		header string
		want   string
	}{
		{"401 default challenge", nil, func(c *gin.Context) { problem.Unauthorized(c, "x") }, "WWW-Authenticate", "Bearer"},
		{"401 keeps richer challenge", func(c *gin.Context) { c.Header("WWW-Authenticate", `Bearer error="invalid_token"`) },
			func(c *gin.Context) { problem.Unauthorized(c, "x") }, "WWW-Authenticate", `Bearer error="invalid_token"`},
		{"503 default retry", nil, func(c *gin.Context) { problem.Unavailable(c, "x") }, "Retry-After", "1"},
		{"503 keeps retry", func(c *gin.Context) { c.Header("Retry-After", "5") },
			func(c *gin.Context) { problem.Unavailable(c, "x") }, "Retry-After", "5"},
		{"500 no challenge", nil, func(c *gin.Context) { problem.Internal(c) }, "WWW-Authenticate", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec, _ := serve(t, tt.write, tt.setup)
			if got := rec.Header().Get(tt.header); got != tt.want {
				t.Errorf("%s %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}

func TestStatusTitles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		write gin.HandlerFunc
		code  int
	}{
		{func(c *gin.Context) { problem.BadRequest(c, "d") }, 400},
		{func(c *gin.Context) { problem.Forbidden(c, "d") }, 403},
		{func(c *gin.Context) { problem.Conflict(c, "d") }, 409},
		{func(c *gin.Context) { problem.PreconditionFailed(c, "d") }, 412},
		{func(c *gin.Context) { problem.PayloadTooLarge(c, "d") }, 413},
		{func(c *gin.Context) { problem.UnsupportedMediaType(c, "d") }, 415},
		{func(c *gin.Context) { problem.Unprocessable(c, "d") }, 422},
		{func(c *gin.Context) { problem.Internal(c) }, 500},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.code), func(t *testing.T) {
			t.Parallel()
			rec, p := serve(t, tt.write, nil)
			if rec.Code != tt.code || p.Status != tt.code {
				t.Errorf("status %d, problem status %d, want %d", rec.Code, p.Status, tt.code)
			}
			if want := http.StatusText(tt.code); p.Title != want {
				t.Errorf("title %q, want %q", p.Title, want)
			}
			if p.Detail == "" {
				t.Error("no detail")
			}
		})
	}
}

// The request path is echoed escaped, and left out when it is longer than
// any route: an error must not grow with the request.
func TestInstanceIsBounded(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.NoRoute(func(c *gin.Context) { problem.NotFound(c, "no route") })
	for _, tc := range []struct{ path, want string }{
		{"/a%20b", "/a%20b"},
		{"/" + strings.Repeat("f", problem.MaxInstanceLen-1), "/" + strings.Repeat("f", problem.MaxInstanceLen-1)},
		{"/" + strings.Repeat("f", problem.MaxInstanceLen), ""},
	} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		var p problem.Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatalf("decode problem %s: %v", rec.Body.String(), err)
		}
		if p.Instance != tc.want {
			t.Errorf("path of %d bytes: instance %q, want %q", len(tc.path), p.Instance, tc.want)
		}
		if rec.Body.Len() > 1024 {
			t.Errorf("path of %d bytes: a problem of %d bytes", len(tc.path), rec.Body.Len())
		}
	}
}
