package openapitest

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// ginParam is a gin path parameter, :id or *rest.
var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

// CheckRoutes compares a gin router's routes with the description's paths
// and methods, both ways: a route the description lacks, or an operation no
// route serves, fails t. Gin's /tickets/:id is the description's
// /tickets/{id}.
func (v *Validator) CheckRoutes(t testing.TB, routes gin.RoutesInfo) {
	t.Helper()
	served := map[string]bool{}
	for _, r := range routes {
		served[r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	described := map[string]bool{}
	for path, item := range v.doc.Paths.Map() {
		for method := range item.Operations() {
			described[strings.ToUpper(method)+" "+path] = true
		}
	}
	for _, r := range sortedKeys(served) {
		if !described[r] {
			t.Errorf("the service serves %s, which %s.yaml (api/openapi) does not describe", r, v.name)
		}
	}
	for _, d := range sortedKeys(described) {
		if !served[d] {
			t.Errorf("%s.yaml (api/openapi) describes %s, which the service does not serve", v.name, d)
		}
	}
	if len(served) == 0 {
		t.Error("the router has no routes")
	}
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
