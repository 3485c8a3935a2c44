package service_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ticketsys/ticketsys/pkg/ticket"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	h.start(nil)
	id := h.insert(ticket.Ticket{}).ID
	for _, path := range []string{"/tickets", "/tickets/" + id} {
		cases := []struct {
			name, auth string
			want       int
			challenge  string
		}{
			{"no token", "", http.StatusUnauthorized, `Bearer realm="tickets"`},
			{"basic auth", "Basic YWxpY2U6cw==", http.StatusUnauthorized, `Bearer realm="tickets"`},
			{"bad token", "Bearer not.a.jwt", http.StatusUnauthorized, `error="invalid_token"`},
			{"wrong scope", "Bearer " + token(t, "tickets:write"), http.StatusForbidden, `error="insufficient_scope"`},
			{"read scope", "Bearer " + token(t, "tickets:write tickets:read"), http.StatusOK, ""},
		}
		for _, tc := range cases {
			r := h.get(path, "Authorization", tc.auth)
			if r.status != tc.want {
				t.Errorf("%s %s: status %d, want %d", path, tc.name, r.status, tc.want)
				continue
			}
			if tc.want == http.StatusOK {
				continue
			}
			r.problem(t)
			if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, tc.challenge) {
				t.Errorf("%s %s: challenge %q, want %q", path, tc.name, got, tc.challenge)
			}
		}
	}
	// The operational endpoints need no token.
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/redis-health"} {
		r := h.get(path, "Authorization", "")
		mustStatus(t, r, http.StatusOK)
	}
}

func TestAuthDisabled(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	h.start(nil, "AUTH_JWT_SECRET", "", "CURSOR_SECRET", "", "AUTH_DISABLED", "true", "ENV", "development")
	mustStatus(t, h.get("/tickets", "Authorization", ""), http.StatusOK)
	// Cursors still work: the key is random per process then.
	for range 2 {
		h.insert(ticket.Ticket{})
	}
	p := decodeList(t, h.get("/tickets?limit=1", "Authorization", ""))
	if p.NextCursor == nil {
		t.Fatal("no cursor")
	}
	mustStatus(t, h.get("/tickets?limit=1&cursor="+*p.NextCursor, "Authorization", ""), http.StatusOK)
}

func TestOperationalEndpoints(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	h.start(nil)
	r := h.get("/redis-health")
	mustStatus(t, r, http.StatusOK)
	if !strings.HasPrefix(string(r.body), `{"latency_ms":`) || !strings.Contains(string(r.body), `"status":"ok"`) {
		t.Fatalf("redis-health %s", r.body)
	}
	mustStatus(t, h.get("/healthz"), http.StatusOK)
	mustStatus(t, h.get("/readyz"), http.StatusOK)
	nope := h.get("/nope")
	if nope.status != http.StatusNotFound || nope.problem(t).Status != http.StatusNotFound {
		t.Fatalf("unknown path %d %s", nope.status, nope.body)
	}
	if nope.header.Get("X-Request-ID") == "" {
		t.Fatal("no X-Request-ID on the 404")
	}
}
