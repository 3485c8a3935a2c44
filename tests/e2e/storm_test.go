package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/net/http/httpguts"

	"github.com/ticketsys/ticketsys/pkg/auth/authtest"
	"github.com/ticketsys/ticketsys/pkg/problem"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
)

// The storm's size and bounds. STORM_SEED replays a storm; STORM_REQUESTS
// changes its size; STORM_SHOW=<family prefix> logs every request of those
// families with its answer.
const (
	stormRequests    = 4000
	stormConcurrency = 8
	stormMaxError    = 8 << 10   // the largest error body allowed
	stormMaxRSS      = 256 << 20 // per process, now and at its peak
	stormMaxHeap     = 128 << 20 // go_memstats_heap_inuse_bytes after the storm
	// stormSeriesSlack is how many series /metrics may gain during the storm
	// after the warm-up: a status code first seen on a route adds one line of
	// ticketsys_http_requests_total. Label values themselves are checked one by one.
	stormSeriesSlack = 12
	stormMaxDuration = 3 * time.Minute
)

// TestStorm sends thousands of generated malformed requests to the three
// running services, over net/http and raw TCP, and asserts: no 5xx but 503;
// every error a small problem+json; /metrics does not grow and holds no
// value the storm chose; memory stays bounded; the services stay ready; and
// a ticket that no valid request touched (the witness) is unchanged.
func TestStorm(t *testing.T) {
	t.Parallel()
	seed, n := stormConfig(t)
	start := time.Now()
	s := newStack(t)
	st := newStorm(t, s, seed)
	t.Logf("stack up in %v", time.Since(start).Round(time.Millisecond))
	before := st.witnessState()
	mustWitness(t, before)

	// Warm-up: every method on every route of every service once, then a
	// fifth of the storm, so that the label sets a healthy service has exist
	// before the metrics are compared.
	all := st.generate(n)
	tour := st.tour()
	warm := make([]stormReq, 0, len(tour)+n/5)
	warm = append(append(warm, tour...), all[:n/5]...)
	rest := all[n/5:]
	reqs := make([]stormReq, 0, len(warm)+len(rest))
	reqs = append(append(reqs, warm...), rest...)
	st.guardWitness(reqs)
	mem0 := st.memory()

	t0 := time.Now()
	warmRes := st.run(warm)
	s.settle()
	scrapesA := st.scrapeAll()
	mem1 := st.memory()
	t.Logf("warm-up: %d requests in %v", len(warm), time.Since(t0).Round(time.Millisecond))

	// The storm, with slow clients and readiness probes beside it.
	t1 := time.Now()
	stop := make(chan struct{})
	readiness := st.sampleReadiness(stop)
	stalls := st.stall()
	restRes := st.run(rest)
	close(stop)
	samples := <-readiness
	t.Logf("storm: %d requests in %v (%d workers)", len(rest), time.Since(t1).Round(time.Millisecond), stormConcurrency)
	stallResults := <-stalls
	s.settle()

	results := make([]stormResult, 0, len(reqs))
	results = append(append(results, warmRes...), restRes...)
	st.report(reqs, results)
	st.checkStalls(stallResults)
	st.checkReadiness(samples)
	st.checkMetrics(scrapesA, st.scrapeAll())
	st.checkMemory(mem0, mem1, st.memory())
	st.checkWitness(before)
	st.checkCache()
	st.checkStillServing()
	if d := time.Since(start); d > stormMaxDuration {
		t.Errorf("the storm took %v, over its bound of %v", d, stormMaxDuration)
	}
	t.Logf("seed %d; total %v", seed, time.Since(start).Round(time.Millisecond))
}

func stormConfig(t *testing.T) (seed uint64, n int) {
	seed = uint64(time.Now().UnixNano())
	if v := os.Getenv("STORM_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("STORM_SEED: %v", err)
		}
	}
	n = stormRequests
	if v := os.Getenv("STORM_REQUESTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 100 {
			t.Fatalf("STORM_REQUESTS: want a number of at least 100, got %q", v)
		}
	}
	t.Logf("storm seed %d (replay with STORM_SEED=%d), %d requests", seed, seed, n)
	return seed, n
}

type storm struct {
	t      *testing.T
	s      *stack
	g      *stormGen
	client *http.Client
	procs  map[string]*process
	names  map[string]string // tokens and long strings shown by name in reproducers
}

func newStorm(t *testing.T, s *stack, seed uint64) *storm {
	tr := &http.Transport{MaxIdleConnsPerHost: stormConcurrency * 2, DisableCompression: true,
		ResponseHeaderTimeout: 15 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	st := &storm{t: t, s: s, g: newStormGen(seed),
		client: &http.Client{Transport: tr, Timeout: 20 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		procs: map[string]*process{"command": s.command, "query": s.query, "cache-invalidator": s.invalidator},
	}
	g := st.g
	g.rw = s.token
	g.read = s.keys.Token(t, "storm-reader", "tickets:read")
	g.write = s.keys.Token(t, "storm-writer", "tickets:write")
	st.names = map[string]string{g.rw: "<token: read+write>", g.read: "<token: read only>", g.write: "<token: write only>",
		g.bigHeader: "<40 KiB of h>", g.midHeader: "<200 KiB of m>", g.overMiBHeader: "<1.06 MiB of H>"}

	// The witness: created with a valid request and an idempotency key, then
	// read through the query service until it is cached.
	g.witnessKey = "witness-key-" + stormMark
	g.witnessBody = `{"title":"Witness: no valid request touches me","description":"the storm must leave this alone",` +
		`"priority":"high","assignee":"witness-owner","tags":["witness","storm"]}`
	r, err := st.do(s.command, http.MethodPost, "/tickets", g.witnessBody, http.Header{
		"Authorization": {"Bearer " + g.rw}, "Content-Type": {"application/json"}, "Idempotency-Key": {g.witnessKey}})
	if err != nil || r.status != http.StatusCreated {
		t.Fatalf("create the witness: %v %d %s", err, r.status, r.body)
	}
	w := r.ticket(t)
	g.witness, g.witnessETag = w.ID, w.Version
	for i := range 24 {
		d := s.create(fmt.Sprintf(`{"title":"decoy %d","assignee":"storm-a"}`, i))
		g.decoys = append(g.decoys, d.ID)
	}
	for range 8 {
		var b [16]byte
		for i := range b {
			b[i] = byte(g.r.UintN(256))
		}
		g.absent = append(g.absent, uuid.Must(uuid.FromBytes(b[:])).String())
	}
	s.settle()
	for _, scope := range []url.Values{{}, {"sort_by": {"title"}, "order": {"asc"}}, {"assignee": {"storm-a"}},
		{"status": {"open"}, "sort_by": {"priority"}}} {
		q := url.Values{"limit": {"1"}}
		for k, v := range scope {
			q[k] = v
		}
		page := s.read("/tickets?" + q.Encode())
		mustStatus(t, page, http.StatusOK)
		if c := page.page(t).NextCursor; c != nil {
			g.cursors = append(g.cursors, stormCursor{scope: scope, cursor: *c})
		}
	}
	if len(g.cursors) == 0 {
		t.Fatal("no list gave a next_cursor")
	}
	// Cached: the second read is a hit.
	s.read("/tickets/" + g.witness)
	return st
}

// do sends one well-formed request.
func (st *storm) do(p *process, method, path, body string, h http.Header) (response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, p.url+path, rd)
	if err != nil {
		return response{}, err
	}
	req.Header = h
	res, err := st.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err == nil {
		st.s.checkDescribed(p, req, res.StatusCode, res.Header, b)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}, err
}

func (st *storm) generate(n int) []stormReq {
	reqs := make([]stormReq, 0, n)
	for len(reqs) < n {
		switch x := st.g.r.IntN(100); {
		case x < 45:
			reqs = append(reqs, st.g.commandReq())
		case x < 80:
			reqs = append(reqs, st.g.queryReq())
		case x < 88:
			reqs = append(reqs, st.g.invalidatorReq())
		default:
			reqs = append(reqs, st.g.rawReq())
		}
	}
	return reqs
}

// tour is every method (the closed set and one more) on every route of
// every service, and an unknown path: the label sets of a healthy service.
func (st *storm) tour() []stormReq {
	var reqs []stormReq
	for _, svc := range []string{"command", "query", "cache-invalidator"} {
		paths := []string{"/zqx-unknown"}
		for p := range stormRoutes[svc] {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "FOO"} {
				req := stormReq{family: "tour", svc: svc, method: m, target: strings.ReplaceAll(p, "{id}", st.g.absent[0]),
					header: http.Header{"Authorization": {"Bearer " + st.g.rw}}}
				if m == "POST" || m == "PUT" || m == "PATCH" {
					req.setBody([]byte("{"), "application/json")
				}
				reqs = append(reqs, req)
			}
		}
	}
	return reqs
}

// guardWitness stops a storm whose generator would send a write to the
// witness without a defect: that would be the test's bug, not the product's.
func (st *storm) guardWitness(reqs []stormReq) {
	id := strings.ToLower(st.g.witness)
	for i, r := range reqs {
		if r.svc != "command" || r.poison != "" {
			continue
		}
		var line string
		if r.raw != nil {
			line, _, _ = strings.Cut(string(r.raw.data), "\n")
		} else if r.method == http.MethodPut || r.method == http.MethodPatch || r.method == http.MethodDelete {
			path, _, _ := strings.Cut(r.target, "?")
			if line, _ = url.PathUnescape(path); line == "" {
				line = path
			}
		}
		if strings.Contains(strings.ToLower(line), id) {
			st.t.Fatalf("generator bug: request %d (%s) writes to the witness without a defect: %s", i, r.family, st.repro(&r))
		}
	}
}

// stormResult is what came back for one request.
type stormResult struct {
	answers []rawAnswer
	err     error
	elapsed time.Duration
}

func (st *storm) run(reqs []stormReq) []stormResult {
	results := make([]stormResult, len(reqs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range stormConcurrency {
		wg.Go(func() {
			for i := range next {
				start := time.Now()
				results[i] = st.send(&reqs[i])
				results[i].elapsed = time.Since(start)
			}
		})
	}
	for i := range reqs {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

func (st *storm) send(req *stormReq) stormResult {
	p := st.procs[req.svc]
	if req.raw != nil {
		answers, err := rawExchange(strings.TrimPrefix(p.url, "http://"), req.method, req.raw)
		if err != nil && len(answers) == len(req.raw.answers) && len(answers) > 0 {
			err = nil // every expected answer came; the error is the close after them
		}
		return stormResult{answers: answers, err: err}
	}
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
		if req.chunked {
			body = io.MultiReader(body) // no length known up front: sent chunked
		}
	}
	hr, err := http.NewRequest(req.method, p.url+"/", body)
	if err != nil {
		return stormResult{err: err}
	}
	path, query, hasQuery := strings.Cut(req.target, "?")
	hr.URL.Opaque, hr.URL.RawQuery, hr.URL.ForceQuery = path, query, hasQuery && query == ""
	if req.chunked {
		hr.ContentLength = -1
	}
	hr.Header = req.header.Clone()
	res, err := st.client.Do(hr)
	if err != nil {
		return stormResult{err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	a := rawAnswer{status: res.StatusCode, header: res.Header, bodyLen: len(b), body: b}
	if len(a.body) > 16<<10 {
		a.body = a.body[:16<<10]
	}
	return stormResult{answers: []rawAnswer{a}, err: err}
}

// leaks are strings no error body may hold: stack traces, driver and
// client library messages.
var leaks = []string{"goroutine ", "panic", "runtime error", "SQLSTATE", "pgx", "pq:", "redis:", "nats:", ".go:", "syntax error at"}

// check returns what is wrong with one answer.
func (st *storm) check(req *stormReq, res stormResult) []string {
	var out []string
	if res.err != nil {
		switch {
		case req.bigBody && connDropped(res.err):
			// Answered 413 and closed while the body was still going out.
		case req.raw != nil && req.raw.mayClose && connDropped(res.err):
		default:
			out = append(out, "no answer: "+res.err.Error())
		}
	}
	wants := [][]int{req.want}
	if req.raw != nil && req.raw.answers != nil {
		wants = req.raw.answers
	}
	for i, a := range res.answers {
		var want []int
		if i < len(wants) {
			want = wants[i]
		}
		out = append(out, st.checkAnswer(req, a, want)...)
		out = append(out, checkStormAnswer(st.t, req, i, a)...)
	}
	return out
}

func (st *storm) checkAnswer(req *stormReq, a rawAnswer, want []int) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	ct := a.header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	if req.raw != nil && a.header.Get("X-Request-ID") == "" {
		// Not the service's answer but net/http's, for a request it could
		// not parse: accepted only where the family says why.
		_, ok := req.raw.netHTTP[a.status]
		switch {
		case !ok:
			bad("net/http answered %d itself (%s, no X-Request-ID), not allowed for this family", a.status, ct)
		case ct != "" && mt != "text/plain":
			bad("net/http's own %d has Content-Type %q", a.status, ct)
		case a.bodyLen > 512:
			bad("net/http's own %d has a body of %d bytes", a.status, a.bodyLen)
		}
		return out
	}
	if a.status >= 500 && a.status != http.StatusServiceUnavailable {
		bad("server error %d", a.status)
	}
	if a.status == http.StatusServiceUnavailable && a.header.Get("Retry-After") == "" {
		bad("503 without Retry-After")
	}
	if want != nil && !slices.Contains(want, a.status) {
		bad("status %d, want one of %v", a.status, want)
	}
	if a.header.Get("X-Request-ID") == "" {
		bad("no X-Request-ID")
	}
	if a.status >= 400 {
		if mt != problem.ContentType {
			bad("error %d with Content-Type %q, want %s", a.status, ct, problem.ContentType)
		}
		size := a.bodyLen
		if req.method == http.MethodHead {
			size, _ = strconv.Atoi(a.header.Get("Content-Length"))
		}
		if size > stormMaxError {
			bad("error body of %d bytes, over %d", size, stormMaxError)
		}
		if req.method != http.MethodHead && mt == problem.ContentType {
			var p problem.Problem
			if err := json.Unmarshal(a.body, &p); err != nil {
				bad("error body is not a problem: %v", err)
			} else if p.Status != a.status || p.Title == "" || p.Type == "" {
				bad("problem body says status %d, title %q, type %q", p.Status, p.Title, p.Type)
			}
		}
		for _, l := range leaks {
			if bytes.Contains(bytes.ToLower(a.body), []byte(strings.ToLower(l))) {
				bad("error body holds %q", l)
			}
		}
	}
	switch a.status {
	case http.StatusUnauthorized, http.StatusForbidden:
		if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
			bad("%d with WWW-Authenticate %q", a.status, a.header.Get("WWW-Authenticate"))
		}
	case http.StatusMethodNotAllowed:
		if a.header.Get("Allow") == "" {
			bad("405 without Allow")
		}
	}
	if req.svc == "query" && strings.HasPrefix(req.target, "/tickets") {
		// Every read that reaches the cache says how it was served; one
		// refused before it (400, 401, 403, 405) says nothing.
		cache := a.header.Get("X-Cache")
		switch a.status {
		case http.StatusOK, http.StatusNotModified, http.StatusNotFound, http.StatusServiceUnavailable:
			if cache == "" && !req.noRoute && (a.status != http.StatusNotFound || strings.HasPrefix(req.family, "get-")) {
				bad("a read answered %d without X-Cache", a.status)
			}
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusMethodNotAllowed:
			if cache != "" {
				bad("a read refused with %d has X-Cache %q", a.status, cache)
			}
		}
	}
	if req.raw == nil {
		// The caller's X-Request-ID comes back when it is sane, a new one otherwise.
		sent, got := req.header.Get("X-Request-ID"), a.header.Get("X-Request-ID")
		if saneRequestID.MatchString(sent) && got != sent {
			bad("X-Request-ID %q sent, %q came back", sent, got)
		}
		if !saneRequestID.MatchString(sent) && got == sent {
			bad("the insane X-Request-ID %q came back", sent)
		}
	}
	if req.family == "witness-key-replay" && a.status == http.StatusCreated {
		if a.header.Get("Idempotent-Replayed") != "true" || a.header.Get("Location") != "/tickets/"+st.g.witness {
			bad("a replay of the witness's creation answered Location %q, Idempotent-Replayed %q",
				a.header.Get("Location"), a.header.Get("Idempotent-Replayed"))
		}
	}
	return out
}

var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// repro prints a request so that it can be sent again by hand.
func (st *storm) repro(req *stormReq) string {
	var b strings.Builder
	limit := 200
	if req.raw != nil {
		limit = 600
	}
	short := func(s string) string {
		for long, name := range st.names {
			s = strings.ReplaceAll(s, long, name)
		}
		if len(s) > limit {
			s = fmt.Sprintf("%s... (%d bytes)", s[:limit], len(s))
		}
		return s
	}
	fmt.Fprintf(&b, "[%s → %s", req.family, req.svc)
	if req.poison != "" {
		fmt.Fprintf(&b, ", defect: %s", req.poison)
	}
	b.WriteString("]\n")
	if req.raw != nil {
		fmt.Fprintf(&b, "    raw TCP (%d bytes%s): %q\n", len(req.raw.data), map[bool]string{true: ", then half-closed"}[req.raw.closeWrite],
			short(string(req.raw.data)))
		return b.String()
	}
	fmt.Fprintf(&b, "    %q %q\n", short(req.method), short(req.target))
	names := make([]string, 0, len(req.header))
	for k := range req.header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range req.header[k] {
			fmt.Fprintf(&b, "    %s: %q\n", k, short(v))
		}
	}
	if req.body != nil {
		body := string(req.body)
		if len(body) > 200 {
			body = body[:200]
		}
		fmt.Fprintf(&b, "    body (%d bytes%s): %q\n", len(req.body), map[bool]string{true: ", chunked"}[req.chunked], short(body))
	}
	return b.String()
}

func answerText(res stormResult) string {
	if len(res.answers) == 0 {
		return fmt.Sprintf("no answer (%v)", res.err)
	}
	var parts []string
	for _, a := range res.answers {
		body := string(a.body)
		if len(body) > 300 {
			body = body[:300] + "..."
		}
		parts = append(parts, fmt.Sprintf("%d %s X-Request-ID=%q: %q", a.status, a.header.Get("Content-Type"), a.header.Get("X-Request-ID"), body))
	}
	return strings.Join(parts, " | ")
}

var addrs = regexp.MustCompile(`[0-9.]+:[0-9]+`)

// report checks every answer, prints each kind of failure with the requests
// that caused it, and the counts that show the storm reached validation.
func (st *storm) report(reqs []stormReq, results []stormResult) {
	t := st.t
	type failure struct {
		count    int
		examples []string
	}
	failures := map[string]*failure{}
	statuses := map[int]int{}
	families := map[string]map[string]int{}
	var slowest time.Duration
	var slowestReq int
	show := os.Getenv("STORM_SHOW") // a family prefix: every request of it is logged with its answer
	netHTTP, dropped, witnessed := 0, 0, 0
	for i := range reqs {
		req, res := &reqs[i], results[i]
		if res.elapsed > slowest {
			slowest, slowestReq = res.elapsed, i
		}
		if req.poison != "" {
			witnessed++
		}
		fam := families[req.family]
		if fam == nil {
			fam = map[string]int{}
			families[req.family] = fam
		}
		if len(res.answers) == 0 {
			fam["drop"]++
			dropped++
		}
		for _, a := range res.answers {
			if req.raw != nil && a.header.Get("X-Request-ID") == "" {
				fam[fmt.Sprintf("net/http %d", a.status)]++
				netHTTP++
				continue
			}
			statuses[a.status]++
			fam[strconv.Itoa(a.status)]++
		}
		if show != "" && strings.HasPrefix(req.family, show) {
			t.Logf("request #%d %s  → %s", i, st.repro(req), answerText(res))
		}
		for _, problem := range st.check(req, res) {
			key := req.family + ": " + addrs.ReplaceAllString(problem, "<addr>")
			if len(key) > 160 {
				key = key[:160]
			}
			f := failures[key]
			if f == nil {
				f = &failure{}
				failures[key] = f
			}
			f.count++
			if len(f.examples) < 2 {
				f.examples = append(f.examples, fmt.Sprintf("  request #%d %s  → %s", i, st.repro(req), answerText(res)))
			}
		}
	}

	names := make([]string, 0, len(families))
	for f := range families {
		names = append(names, f)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, f := range names {
		keys := make([]string, 0, len(families[f]))
		total := 0
		for k, n := range families[f] {
			keys = append(keys, fmt.Sprintf("%s×%d", k, n))
			total += n
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "  %-44s %5d  %s\n", f, total, strings.Join(keys, " "))
	}
	t.Logf("answers by family:\n%s", b.String())
	t.Logf("statuses: %v; answered by net/http itself: %d; closed without an answer: %d; slowest: %v (request #%d, %s)",
		statuses, netHTTP, dropped, slowest.Round(time.Millisecond), slowestReq, reqs[slowestReq].family)

	keys := make([]string, 0, len(failures))
	for k := range failures {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i == 40 {
			t.Errorf("... and %d more kinds of failure", len(keys)-40)
			break
		}
		f := failures[k]
		t.Errorf("%s (%d times)\n%s", k, f.count, strings.Join(f.examples, "\n"))
	}

	// The storm reached what it aimed at: validation (400, 422), auth
	// (401, 403), routing (404, 405), limits (413, 415), preconditions (412)
	// and the protocol layer, and valid requests took effect.
	n := len(reqs)
	atLeast := map[int]int{400: n / 25, 422: n / 25, 401: n / 50, 403: n / 200, 404: n / 50, 405: n / 100,
		412: n / 200, 413: 3, 415: n / 200, 200: n / 20, 201: n / 50}
	for status, least := range atLeast {
		if statuses[status] < least {
			t.Errorf("only %d answers %d, want at least %d: the storm did not reach what answers it", statuses[status], status, least)
		}
	}
	if netHTTP < n/200 {
		t.Errorf("only %d answers came from net/http's parser: the raw families did not reach the protocol layer", netHTTP)
	}
	if witnessed < n/25 {
		t.Errorf("only %d requests were aimed at the witness", witnessed)
	}
	t.Logf("%d requests aimed at the witness, each with a defect", witnessed)
}

// stall starts the slow clients on every service; the channel gets their
// results once each was cut off or gave up.
func (st *storm) stall() <-chan map[string][]stallResult {
	out := make(chan map[string][]stallResult, 1)
	go func() {
		var mu sync.Mutex
		var wg sync.WaitGroup
		res := map[string][]stallResult{}
		for name, p := range st.procs {
			for _, probe := range stallProbes(strings.TrimPrefix(p.url, "http://")) {
				wg.Go(func() {
					r := probe()
					mu.Lock()
					res[name] = append(res[name], r)
					mu.Unlock()
				})
			}
		}
		wg.Wait()
		out <- res
	}()
	return out
}

func (st *storm) checkStalls(res map[string][]stallResult) {
	var b strings.Builder
	for _, name := range []string{"command", "query", "cache-invalidator"} {
		for _, r := range res[name] {
			if r.err != nil {
				st.t.Errorf("%s, slow client %q: %v", name, r.name, r.err)
				continue
			}
			if strings.HasPrefix(r.answer, "HTTP/1.1 5") && !strings.HasPrefix(r.answer, "HTTP/1.1 503") {
				st.t.Errorf("%s, slow client %q: answered %q", name, r.name, r.answer)
			}
			fmt.Fprintf(&b, " %s/%s: %v %s;", name, r.name, r.closed.Round(100*time.Millisecond), r.answer)
		}
	}
	st.t.Logf("slow clients cut off after:%s", b.String())
}

type readySample struct {
	proc   string
	status int
	err    error
	at     time.Duration
}

// sampleReadiness asks every /readyz four times a second until stop.
func (st *storm) sampleReadiness(stop <-chan struct{}) <-chan []readySample {
	out := make(chan []readySample, 1)
	client := &http.Client{Timeout: 5 * time.Second}
	start := time.Now()
	go func() {
		var samples []readySample
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				out <- samples
				return
			case <-tick.C:
				for name, p := range st.procs {
					code, err := readyz(client, p)
					samples = append(samples, readySample{name, code, err, time.Since(start)})
				}
			}
		}
	}()
	return out
}

func (st *storm) checkReadiness(samples []readySample) {
	bad := 0
	for _, s := range samples {
		if s.err != nil || s.status != http.StatusOK {
			bad++
			if bad <= 5 {
				st.t.Errorf("%s /readyz at %v into the storm: %d %v", s.proc, s.at.Round(time.Millisecond), s.status, s.err)
			}
		}
	}
	if len(samples) < 3 {
		st.t.Errorf("only %d readiness samples during the storm", len(samples))
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for name, p := range st.procs {
		select {
		case <-p.Exited():
			st.t.Errorf("%s exited during the storm", name)
			continue
		default:
		}
		if code, err := readyz(client, p); err != nil || code != http.StatusOK {
			st.t.Errorf("%s /readyz after the storm: %d %v", name, code, err)
		}
	}
	st.t.Logf("readiness: %d samples during the storm, %d not ready", len(samples), bad)
}

func (st *storm) scrapeAll() map[string]scrape {
	out := map[string]scrape{}
	for name, p := range st.procs {
		sc, err := scrapeMetrics(st.client, p)
		if err != nil {
			st.t.Fatalf("%s: %v", name, err)
		}
		out[name] = sc
	}
	return out
}

func (st *storm) checkMetrics(before, after map[string]scrape) {
	for _, name := range []string{"command", "query", "cache-invalidator"} {
		a, b := before[name], after[name]
		added := newSeries(a, b)
		st.t.Logf("%s /metrics: %d series after the warm-up, %d after the storm (%d new)", name, len(a.series), len(b.series), len(added))
		if len(b.series)-len(a.series) > stormSeriesSlack {
			st.t.Errorf("%s /metrics grew by %d series during the storm (slack %d); new: %s", name,
				len(b.series)-len(a.series), stormSeriesSlack, strings.Join(firstN(added, 20), "\n  "))
		} else if len(added) > 0 {
			st.t.Logf("  new: %s", strings.Join(firstN(added, 20), "\n  "))
		}
		if probs := b.labelProblems(); len(probs) > 0 {
			st.t.Errorf("%s /metrics has label values it should not: %s", name, strings.Join(firstN(probs, 20), "\n  "))
		}
		if heap := b.gauge("go_memstats_heap_inuse_bytes"); heap < 0 || heap > stormMaxHeap {
			st.t.Errorf("%s: go_memstats_heap_inuse_bytes %.0f after the storm, bound %d", name, heap, stormMaxHeap)
		} else {
			st.t.Logf("%s heap in use: %s after the warm-up, %s after the storm", name,
				mib(int64(a.gauge("go_memstats_heap_inuse_bytes"))), mib(int64(heap)))
		}
	}
}

func firstN(xs []string, n int) []string {
	if len(xs) > n {
		return append(xs[:n:n], fmt.Sprintf("... %d more", len(xs)-n))
	}
	return xs
}

func (st *storm) memory() map[string]memory {
	out := map[string]memory{}
	for name, p := range st.procs {
		m, err := p.memory()
		if err != nil {
			st.t.Fatalf("%s: %v", name, err)
		}
		out[name] = m
	}
	return out
}

func (st *storm) checkMemory(start, warm, end map[string]memory) {
	for _, name := range []string{"command", "query", "cache-invalidator"} {
		s, w, e := start[name], warm[name], end[name]
		st.t.Logf("%s RSS: %s before, %s after the warm-up, %s after the storm; peak %s", name,
			mib(s.rss), mib(w.rss), mib(e.rss), mib(e.peak))
		if e.rss > stormMaxRSS || e.peak > stormMaxRSS {
			st.t.Errorf("%s RSS %s (peak %s), bound %s", name, mib(e.rss), mib(e.peak), mib(stormMaxRSS))
		}
	}
}

// witness is everything that says what the witness is: its row, its
// outbox rows, the cached entry and what the query service answers.
type witness struct {
	row, outbox, cached string
	body                []byte
	etag, xcache        string
}

func (st *storm) witnessState() witness {
	ctx := context.Background()
	var w witness
	id := st.g.witness
	if err := st.s.pool.QueryRow(ctx, `SELECT to_jsonb(t)::text FROM tickets t WHERE id = $1`, id).Scan(&w.row); err != nil {
		st.t.Fatalf("witness row: %v", err)
	}
	if err := st.s.pool.QueryRow(ctx, `SELECT count(*) || ' rows, versions ' || coalesce(string_agg(version::text, ','), '')
		FROM outbox WHERE ticket_id = $1`, id).Scan(&w.outbox); err != nil {
		st.t.Fatalf("witness outbox: %v", err)
	}
	keys := ticketcache.Keys{Prefix: st.s.streamName + ":"}
	w.cached, _ = st.s.rdb.Get(ctx, keys.Ticket(id)).Result()
	r := st.s.read("/tickets/" + id)
	mustStatus(st.t, r, http.StatusOK)
	w.body, w.etag, w.xcache = r.body, r.header.Get("ETag"), r.header.Get("X-Cache")
	return w
}

// mustWitness makes sure the comparison compares something.
func mustWitness(t *testing.T, w witness) {
	t.Helper()
	if !strings.Contains(w.row, `"version": 1`) || !strings.Contains(w.row, "Witness: no valid request") ||
		!bytes.Contains(w.body, []byte("Witness: no valid request")) || w.etag != `"1"` || w.xcache != "HIT" ||
		w.cached == "" || w.outbox != "1 rows, versions 1" {
		t.Fatalf("the witness is not as created: row %s; outbox %s; cached %q; GET %s %s %s", w.row, w.outbox, w.cached, w.etag, w.xcache, w.body)
	}
}

func (st *storm) checkWitness(before witness) {
	after := st.witnessState()
	st.t.Logf("witness %s: row %d bytes, body %d bytes, ETag %s, X-Cache %s, outbox %s", st.g.witness,
		len(after.row), len(after.body), after.etag, after.xcache, after.outbox)
	if after.row != before.row {
		st.t.Errorf("the witness's row changed:\nbefore %s\nafter  %s", before.row, after.row)
	}
	if after.outbox != before.outbox {
		st.t.Errorf("the witness's outbox changed: before %s, after %s", before.outbox, after.outbox)
	}
	if after.cached != before.cached {
		st.t.Errorf("the witness's cache entry changed:\nbefore %s\nafter  %s", before.cached, after.cached)
	}
	if !bytes.Equal(after.body, before.body) || after.etag != before.etag || after.xcache != before.xcache {
		st.t.Errorf("GET of the witness changed: before %s %s %s, after %s %s %s", before.etag, before.xcache, before.body,
			after.etag, after.xcache, after.body)
	}
}

// checkCache looks at every key the storm left in Redis: list pages only
// of valid lists, keyed by the canonical cursor; tickets only under their
// canonical id, and only tickets that exist.
func (st *storm) checkCache() {
	ctx := context.Background()
	prefix := st.s.streamName + ":"
	keys := ticketcache.Keys{Prefix: prefix}
	var lists int
	var ids []string
	iter := st.s.rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		switch {
		case strings.HasPrefix(k, keys.ListPrefix()):
			lists++
			q, _, ok := keys.ParseList(k)
			switch {
			case !ok:
				st.t.Errorf("a list key the scheme would not build: %.300q", k)
			case q.Status != "" && !slices.Contains(statuses, q.Status), !slices.Contains([]string{"created_at", "updated_at", "priority", "title"}, q.SortBy),
				q.Order != "asc" && q.Order != "desc", q.Limit < 1 || q.Limit > 200,
				utf8.RuneCountInString(q.Assignee) > 100 || !utf8.ValidString(q.Assignee) || strings.ContainsRune(q.Assignee, 0):
				st.t.Errorf("a list page of a list the API refuses is cached: %.300q", k)
			case q.Cursor != "" && !base64url.MatchString(q.Cursor):
				st.t.Errorf("a list page is keyed by a cursor as sent, not canonically: %.300q", k)
			}
		case strings.HasPrefix(k, keys.Ticket("")):
			id := strings.TrimPrefix(k, keys.Ticket(""))
			if u, err := uuid.Parse(id); err != nil || u.String() != id {
				st.t.Errorf("a ticket is cached under an id that is not canonical: %.300q", k)
				continue
			}
			ids = append(ids, id)
		}
	}
	if err := iter.Err(); err != nil {
		st.t.Fatal(err)
	}
	var existing int
	if err := st.s.pool.QueryRow(ctx, `SELECT count(*) FROM tickets WHERE id = ANY($1::uuid[])`, ids).Scan(&existing); err != nil {
		st.t.Fatal(err)
	}
	if existing != len(ids) {
		st.t.Errorf("%d of %d cached tickets never existed", len(ids)-existing, len(ids))
	}
	st.t.Logf("Redis after the storm: %d list pages, %d tickets cached", lists, len(ids))
}

var base64url = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// checkStillServing: a valid write after the storm is read back, nothing
// went to the dead-letter stream, and the storm's tickets reached the stream.
func (st *storm) checkStillServing() {
	s := st.s
	tk := s.create(`{"title":"after the storm"}`)
	mustStatus(st.t, s.read("/tickets/"+tk.ID), http.StatusOK)
	ctx := context.Background()
	dlq, err := s.js.Stream(ctx, s.streamName+"_DLQ")
	if err != nil {
		st.t.Errorf("DLQ stream: %v", err)
		return
	}
	info, err := dlq.Info(ctx)
	if err != nil {
		st.t.Errorf("DLQ info: %v", err)
		return
	}
	if info.State.Msgs != 0 {
		st.t.Errorf("%d events went to the DLQ during the storm", info.State.Msgs)
	}
	var created int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM tickets`).Scan(&created); err != nil {
		st.t.Fatal(err)
	}
	st.t.Logf("%d tickets in the database after the storm", created)
}

// TestAuthMatrix runs the auth attack matrix against the running command
// (scope tickets:write, POST /tickets) and query (tickets:read, GET
// /tickets) services: every attack is a 401 or 403 problem with a Bearer
// challenge, never a 500, and the good token gets through.
func TestAuthMatrix(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	client := &http.Client{Timeout: 10 * time.Second}
	for _, target := range []struct {
		svc                 string
		p                   *process
		scope, method, path string
		body                string
		ok                  int
	}{
		{"command", s.command, "tickets:write", http.MethodPost, "/tickets", `{"title":"auth matrix"}`, http.StatusCreated},
		{"query", s.query, "tickets:read", http.MethodGet, "/tickets", "", http.StatusOK},
	} {
		cases := authtest.Matrix(t, s.keys, target.scope, "", "")
		for _, c := range cases {
			want := c.Status
			if want == http.StatusOK {
				want = target.ok
			}
			authz := c.Authorization
			if !httpguts.ValidHeaderFieldValue(authz) {
				// CR and LF cannot be inside a header value on the wire: sent as
				// they are they end the header, and net/http refuses the rest
				// ("*1" is no header line) before any handler runs. That must
				// not be a 5xx; then the value is sent with spaces for them.
				raw := rawRequest(target.method+" "+target.path+" HTTP/1.1", []string{"Authorization: " + authz}, target.body)
				answers, err := rawExchange(strings.TrimPrefix(target.p.url, "http://"), target.method, &rawSpec{data: raw})
				switch {
				case err != nil || len(answers) != 1:
					t.Errorf("%s, %s, raw: %v", target.svc, c.Name, err)
				case answers[0].status >= 500:
					t.Errorf("%s, %s, raw: %d %s", target.svc, c.Name, answers[0].status, answers[0].body)
				case answers[0].header.Get("X-Request-ID") != "" && answers[0].status != http.StatusUnauthorized:
					t.Errorf("%s, %s, raw: the service answered %d, want 401", target.svc, c.Name, answers[0].status)
				}
				authz = strings.NewReplacer("\r", " ", "\n", " ").Replace(authz)
			}
			var body io.Reader
			if target.body != "" {
				body = strings.NewReader(target.body)
			}
			req, err := http.NewRequest(target.method, target.p.url+target.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if target.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if authz != "" {
				req.Header.Set("Authorization", authz)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Errorf("%s, %s: %v", target.svc, c.Name, err)
				continue
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			s.checkDescribed(target.p, req, res.StatusCode, res.Header, b)
			if res.StatusCode != want {
				t.Errorf("%s, %s: status %d, want %d; %s", target.svc, c.Name, res.StatusCode, want, b)
				continue
			}
			if want < 400 {
				continue
			}
			challenge := res.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(challenge, `Bearer realm="tickets"`) {
				t.Errorf("%s, %s: WWW-Authenticate %q", target.svc, c.Name, challenge)
			}
			switch {
			case want == http.StatusForbidden && (!strings.Contains(challenge, `error="insufficient_scope"`) ||
				!strings.Contains(challenge, `scope="`+target.scope+`"`)):
				t.Errorf("%s, %s: 403 with WWW-Authenticate %q", target.svc, c.Name, challenge)
			case want == http.StatusUnauthorized && sentToken(authz) && !strings.Contains(challenge, `error="invalid_token"`):
				t.Errorf("%s, %s: 401 for a token with WWW-Authenticate %q", target.svc, c.Name, challenge)
			}
			var p problem.Problem
			if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != problem.ContentType ||
				json.Unmarshal(b, &p) != nil || p.Status != want || len(b) > stormMaxError || res.Header.Get("X-Request-ID") == "" {
				t.Errorf("%s, %s: not a small problem with a request id: %s %q %s", target.svc, c.Name,
					res.Header.Get("Content-Type"), res.Header.Get("X-Request-ID"), b)
			}
		}
		t.Logf("%s: %d attack cases", target.svc, len(cases))
	}
}

// sentToken tells whether an Authorization value carries a bearer token.
func sentToken(authz string) bool {
	scheme, tok, _ := strings.Cut(strings.TrimSpace(authz), " ")
	return strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(tok) != ""
}
