package service_test

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticket"
)

// Redis stopped and started again under a steady stream of reads: not one
// read fails; while Redis is down they bypass it, the breaker opens so they
// stop trying, /redis-health says 503 and /readyz stays ready; when Redis is
// back, caching resumes by itself.
func TestRedisOutageAndRecovery(t *testing.T) {
	t.Parallel()
	rp := testinfra.StartRedisServer(t)
	h := newHarness(t, rp.URL())
	h.start(nil, "REDIS_RETRY_INTERVAL", "300ms")
	tk := h.insert(ticket.Ticket{Title: "survives"})
	paths := []string{"/tickets/" + tk.ID, "/tickets"}
	for _, p := range paths {
		mustCache(t, h.get(p), "MISS")
		mustCache(t, h.get(p), "HIT")
	}

	// The background readers: every response must be a 200 with the ticket.
	tok := token(t)
	stop := make(chan struct{})
	var (
		mu      sync.Mutex
		seen    = map[string]int{}
		failure []string
		wg      sync.WaitGroup
	)
	for _, p := range paths {
		wg.Go(func() {
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, err := trySend(h.srv, http.MethodGet, p, tok)
				mu.Lock()
				if err != nil || r.status != http.StatusOK || !strings.Contains(string(r.body), tk.ID) {
					failure = append(failure, p+": "+strconv.Itoa(r.status)+" "+string(r.body))
				}
				seen[r.cache()]++
				mu.Unlock()
			}
		})
	}

	rp.Stop()
	testinfra.Eventually(t, 15*time.Second, func() bool { return h.get(paths[0]).cache() == "BYPASS" }, "reads never bypassed the stopped Redis")
	testinfra.Eventually(t, 15*time.Second, func() bool {
		return h.metric("ticketsys_redis_circuit_breaker_state") == "ticketsys_redis_circuit_breaker_state 2"
	},
		"the breaker never opened")
	for _, p := range paths {
		r := h.get(p)
		mustStatus(t, r, http.StatusOK)
		mustCache(t, r, "BYPASS")
	}
	r := h.get("/redis-health", "Authorization", "")
	mustStatus(t, r, http.StatusServiceUnavailable)
	var health map[string]string
	if err := json.Unmarshal(r.body, &health); err != nil || health["status"] != "unavailable" || health["error"] == "" {
		t.Fatalf("redis-health %s", r.body)
	}
	if strings.Contains(health["error"], "127.0.0.1") || strings.Contains(health["error"], strconv.Itoa(portOf(t, rp.URL()))) {
		t.Fatalf("redis-health leaks the address: %s", r.body)
	}
	mustStatus(t, h.get("/readyz", "Authorization", ""), http.StatusOK)
	mustStatus(t, h.get("/healthz", "Authorization", ""), http.StatusOK)

	rp.Start(t)
	for _, p := range paths {
		testinfra.Eventually(t, 15*time.Second, func() bool { return h.get(p).cache() == "HIT" }, "caching never resumed for %s", p)
	}
	mustStatus(t, h.get("/redis-health", "Authorization", ""), http.StatusOK)
	if got := h.metric("ticketsys_redis_circuit_breaker_state"); got != "ticketsys_redis_circuit_breaker_state 0" {
		t.Fatalf("breaker %q after recovery", got)
	}

	close(stop)
	wg.Wait()
	if len(failure) > 0 {
		t.Fatalf("%d reads failed during the outage, e.g. %s", len(failure), failure[0])
	}
	if seen["BYPASS"] == 0 || seen["HIT"] == 0 {
		t.Fatalf("background reads saw %v, want both BYPASS and HIT", seen)
	}
	t.Logf("background reads: %v", seen)
}

// A Redis that never answered from the start: the service starts, reads
// bypass, and only /redis-health minds.
func TestRedisNeverUp(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	h.start(nil, "REDIS_URL", "redis://127.0.0.1:"+strconv.Itoa(closedPort(t))+"/0")
	tk := h.insert(ticket.Ticket{})
	for range 5 {
		r := h.get("/tickets/" + tk.ID)
		mustStatus(t, r, http.StatusOK)
		mustCache(t, r, "BYPASS")
		r = h.get("/tickets?limit=1")
		mustStatus(t, r, http.StatusOK)
		mustCache(t, r, "BYPASS")
	}
	mustStatus(t, h.get("/readyz"), http.StatusOK)
	mustStatus(t, h.get("/redis-health"), http.StatusServiceUnavailable)
	if got := h.metric(`ticketsys_cache_requests_total{kind="ticket",result="bypass"}`); got != `ticketsys_cache_requests_total{kind="ticket",result="bypass"} 5` {
		t.Fatalf("bypasses counted as %q", got)
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}

func portOf(t testing.TB, rawURL string) int {
	t.Helper()
	i := strings.LastIndex(rawURL, ":")
	n, err := strconv.Atoi(strings.TrimSuffix(rawURL[i+1:], "/0"))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
