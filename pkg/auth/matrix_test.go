package auth_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/auth/authtest"
	"github.com/ticketsys/ticketsys/pkg/problem"
)

// The attack matrix against the default setup, a public key, with and without issuer and
// audience checks: each refused with 401 or 403, a Bearer challenge and a problem, never a 500.
func TestAttackMatrix(t *testing.T) {
	t.Parallel()
	keys := authtest.NewKeys(t)
	for _, setup := range []struct{ name, issuer, audience string }{
		{"no iss/aud checks", "", ""},
		{"iss and aud checked", "https://idp.example", "tickets-api"},
	} {
		t.Run(setup.name, func(t *testing.T) {
			t.Parallel()
			e := router(t, auth.Config{PublicKeyFile: keys.PublicFile, Issuer: setup.issuer, Audience: setup.audience}, "tickets:write")
			for _, c := range authtest.Matrix(t, keys, "tickets:write", setup.issuer, setup.audience) {
				rec := call(e, c.Authorization)
				if rec.Code != c.Status {
					t.Errorf("%s: status %d, want %d", c.Name, rec.Code, c.Status)
					continue
				}
				if c.Status == 200 {
					continue
				}
				if ch := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(ch, `Bearer realm="tickets"`) {
					t.Errorf("%s: WWW-Authenticate %q", c.Name, ch)
				}
				var p problem.Problem
				if rec.Header().Get("Content-Type") != problem.ContentType || json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Status != c.Status {
					t.Errorf("%s: not a problem: %s %s", c.Name, rec.Header().Get("Content-Type"), rec.Body)
				}
			}
		})
	}
}
