package problem_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	assert.False(t, after, "chain must be aborted")
	var p problem.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p), rec.Body.String())
	return rec, p
}

func TestWriteDefaults(t *testing.T) {
	t.Parallel()
	rec, p := serve(t, func(c *gin.Context) { problem.NotFound(c, "no such ticket") }, nil)
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"))
	assert.Equal(t, problem.Problem{
		Type: "about:blank", Title: "Not Found", Status: 404, Detail: "no such ticket", Instance: "/x/1",
	}, p)
	assert.NotContains(t, rec.Body.String(), "errors")
}

func TestValidation(t *testing.T) {
	t.Parallel()
	errs := []problem.FieldError{{Field: "title", Message: "must not be empty"}}
	rec, p := serve(t, func(c *gin.Context) { problem.Validation(c, errs) }, nil)
	assert.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	assert.Equal(t, problem.TypeValidation, p.Type)
	assert.Equal(t, "Validation failed", p.Title)
	assert.Equal(t, errs, p.Errors)
	assert.Contains(t, rec.Body.String(), `"errors":[{"field":"title","message":"must not be empty"}]`)
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
			assert.Equal(t, tt.want, rec.Header().Get(tt.header))
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
			assert.Equal(t, tt.code, rec.Code)
			assert.Equal(t, tt.code, p.Status)
			assert.Equal(t, http.StatusText(tt.code), p.Title)
			assert.NotEmpty(t, p.Detail)
		})
	}
}
