package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// load is the steady mixed traffic every scenario runs under: writers
// patching tickets (some hot), readers reading them by id and in lists,
// and a probe that measures write → fresh read. Everything it is answered
// is recorded for the audits.
type load struct {
	s      *system
	cfg    loadConfig
	client *http.Client
	ids    []string // every ticket; ids[:cfg.hot] are the hot ones
	rec    recorder
	cursor atomic.Uint64 // round-robin over the command instances
}

type loadConfig struct {
	tickets, hot      int
	writeRate         int // PATCHes per second, over all writers
	readRate          int // GETs per second, over all readers
	writers, readers  int
	probeEvery        time.Duration
	freshnessDeadline time.Duration // a probe read still stale after this is recorded as a miss
}

// ack is an acknowledged write: the answer the client got.
type ack struct {
	id      string
	version int64
	title   string
	at      time.Time
}

// read is one GET /tickets/{id} that answered 200.
type read struct {
	id      string
	sent    time.Time
	version int64
	cache   string // X-Cache
	latency time.Duration
}

// probe is one write → fresh measurement.
type probe struct {
	at      time.Time // when the write was acknowledged
	latency time.Duration
	fresh   bool // false: still stale at the deadline
}

type recorder struct {
	mu         sync.Mutex
	acks       []ack
	reads      []read
	probes     []probe
	writes     int
	readsDone  int
	writeFails map[string]int // by kind
	readFails  map[string]int
	samples    map[string]string // one example per failure kind
}

func (r *recorder) fail(kinds map[string]int, kind, example string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kinds[kind]++
	if _, ok := r.samples[kind]; !ok {
		r.samples[kind] = example
	}
}

func newLoad(s *system, cfg loadConfig) *load {
	s.t.Helper()
	l := &load{s: s, cfg: cfg, client: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	}}
	l.rec.writeFails, l.rec.readFails, l.rec.samples = map[string]int{}, map[string]int{}, map[string]string{}
	statuses := []string{"open", "in_progress", "resolved"}
	for i := range cfg.tickets {
		body := fmt.Sprintf(`{"title":"chaos %d","assignee":"agent-%d","status":%q}`, i, i%7, statuses[i%3])
		res, err := l.do(l.commandURL(), http.MethodPost, "/tickets", body)
		if err != nil || res.status != http.StatusCreated {
			s.t.Fatalf("create ticket %d: %v %d %s", i, err, res.status, res.body)
		}
		var tk struct {
			ID      string `json:"id"`
			Version int64  `json:"version"`
			Title   string `json:"title"`
		}
		if err := json.Unmarshal(res.body, &tk); err != nil {
			s.t.Fatal(err)
		}
		l.ids = append(l.ids, tk.ID)
		l.rec.acks = append(l.rec.acks, ack{id: tk.ID, version: tk.Version, title: tk.Title, at: time.Now()})
	}
	// Warm the cache, so faults meet cached entries.
	for _, id := range l.ids {
		if res, err := l.do(l.queryURL(), http.MethodGet, "/tickets/"+id, ""); err != nil || res.status != http.StatusOK {
			s.t.Fatalf("warm %s: %v %d %s", id, err, res.status, res.body)
		}
	}
	return l
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (l *load) do(base, method, path, body string) (response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return response{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+l.s.token)
	res, err := l.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}, err
}

func (l *load) commandURL() string {
	cs := l.s.commands
	return cs[int(l.cursor.Add(1))%len(cs)].URL()
}

func (l *load) queryURL() string {
	qs := l.s.queries
	return qs[int(l.cursor.Add(1))%len(qs)].URL()
}

// run sends traffic until ctx ends and returns once every worker stopped.
func (l *load) run(ctx context.Context) {
	var wg sync.WaitGroup
	for w := range l.cfg.writers {
		wg.Go(func() { l.writer(ctx, uint64(w), l.cfg.writeRate/l.cfg.writers) })
	}
	for r := range l.cfg.readers {
		wg.Go(func() { l.reader(ctx, uint64(r)) })
	}
	wg.Go(func() { l.prober(ctx) })
	wg.Wait()
}

// every calls f at rate per second until ctx ends; a slow f drops ticks.
func every(ctx context.Context, rate int, f func()) {
	tick := time.NewTicker(time.Second / time.Duration(max(rate, 1)))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			f()
		}
	}
}

func (l *load) writer(ctx context.Context, seed uint64, rate int) {
	r := rand.New(rand.NewPCG(seed, 1))
	every(ctx, rate, func() {
		id := l.pick(r)
		l.patch(id, fmt.Sprintf("w%d-%d", seed, r.Uint32()))
	})
}

// hot patches one ticket at rate per second until ctx ends.
func (l *load) hot(ctx context.Context, id string, rate, workers int) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			n := 0
			every(ctx, rate/workers, func() {
				n++
				l.patch(id, fmt.Sprintf("hot%d-%d", w, n))
			})
		})
	}
	wg.Wait()
}

func (l *load) pick(r *rand.Rand) string {
	if l.cfg.hot > 0 && r.IntN(10) < 3 {
		return l.ids[r.IntN(l.cfg.hot)]
	}
	return l.ids[r.IntN(len(l.ids))]
}

// patch changes id's title and records the answer; it returns the
// acknowledged version, or 0.
func (l *load) patch(id, title string) int64 {
	res, err := l.do(l.commandURL(), http.MethodPatch, "/tickets/"+id, fmt.Sprintf(`{"title":%q}`, title))
	l.rec.mu.Lock()
	l.rec.writes++
	l.rec.mu.Unlock()
	if kind, bad := failureKind(res, err); bad {
		l.rec.fail(l.rec.writeFails, kind, fmt.Sprintf("PATCH %s: %v %d %s", id, err, res.status, res.body))
		return 0
	}
	var tk struct {
		Version int64  `json:"version"`
		Title   string `json:"title"`
	}
	if err := json.Unmarshal(res.body, &tk); err != nil || tk.Title != title {
		l.rec.fail(l.rec.writeFails, "bad body", fmt.Sprintf("PATCH %s: %s", id, res.body))
		return 0
	}
	l.rec.mu.Lock()
	l.rec.acks = append(l.rec.acks, ack{id: id, version: tk.Version, title: title, at: time.Now()})
	l.rec.mu.Unlock()
	return tk.Version
}

// failureKind names what went wrong with an answer, if anything did.
func failureKind(res response, err error) (string, bool) {
	switch {
	case err != nil:
		return "transport", true
	case res.status == http.StatusServiceUnavailable && res.header.Get("Retry-After") != "":
		return "503", true
	case res.status >= 300:
		return fmt.Sprint(res.status), true
	}
	return "", false
}

func (l *load) reader(ctx context.Context, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 2))
	every(ctx, l.cfg.readRate/l.cfg.readers, func() {
		if r.IntN(10) == 0 { // a list page now and then
			path := "/tickets?limit=20&status=" + []string{"open", "in_progress", "resolved"}[r.IntN(3)]
			res, err := l.do(l.queryURL(), http.MethodGet, path, "")
			l.countRead(res, err, path, "list ")
			return
		}
		id := l.pick(r)
		if _, ok := l.readTicket(id); !ok {
			return
		}
	})
}

// countRead records a read's answer; a failure's kind gets kindPrefix.
func (l *load) countRead(res response, err error, path, kindPrefix string) bool {
	l.rec.mu.Lock()
	l.rec.readsDone++
	l.rec.mu.Unlock()
	if kind, bad := failureKind(res, err); bad {
		l.rec.fail(l.rec.readFails, kindPrefix+kind, fmt.Sprintf("GET %s: %v %d %s", path, err, res.status, res.body))
		return false
	}
	return true
}

// readTicket reads id from the query service and records the answer.
func (l *load) readTicket(id string) (read, bool) {
	path := "/tickets/" + id
	sent := time.Now()
	res, err := l.do(l.queryURL(), http.MethodGet, path, "")
	if !l.countRead(res, err, path, "") {
		return read{}, false
	}
	var tk struct {
		Version int64 `json:"version"`
	}
	if err := json.Unmarshal(res.body, &tk); err != nil {
		l.rec.fail(l.rec.readFails, "bad body", fmt.Sprintf("GET %s: %s", path, res.body))
		return read{}, false
	}
	rd := read{id: id, sent: sent, version: tk.Version, cache: res.header.Get("X-Cache"), latency: time.Since(sent)}
	l.rec.mu.Lock()
	l.rec.reads = append(l.rec.reads, rd)
	l.rec.mu.Unlock()
	return rd, true
}

// prober patches a cold ticket, then reads it until the read shows the
// write: the write → fresh latency users see.
func (l *load) prober(ctx context.Context) {
	cold := l.ids[l.cfg.hot:]
	n := 0
	every(ctx, int(time.Second/l.cfg.probeEvery), func() {
		id := cold[n%len(cold)]
		n++
		v := l.patch(id, fmt.Sprintf("probe-%d", n))
		if v == 0 {
			return
		}
		acked := time.Now()
		for time.Since(acked) < l.cfg.freshnessDeadline && ctx.Err() == nil {
			if rd, ok := l.readTicket(id); ok && rd.version >= v {
				l.rec.mu.Lock()
				l.rec.probes = append(l.rec.probes, probe{at: acked, latency: time.Since(acked), fresh: true})
				l.rec.mu.Unlock()
				return
			}
			time.Sleep(5 * time.Millisecond) // polling interval of the probe
		}
		if ctx.Err() == nil {
			l.rec.mu.Lock()
			l.rec.probes = append(l.rec.probes, probe{at: acked, latency: time.Since(acked)})
			l.rec.mu.Unlock()
		}
	})
}

// window is a span of time, such as a fault and its grace period.
type window struct{ from, to time.Time }

func (w window) holds(t time.Time) bool { return !t.Before(w.from) && !t.After(w.to) }

// staleReads counts reads that showed an older version than one
// acknowledged at least bound before the read was sent, except reads sent
// inside an excused window (a fault and its recovery, where the issue
// allows stale reads).
func (l *load) staleReads(bound time.Duration, excused []window) (stale int, example string) {
	l.rec.mu.Lock()
	defer l.rec.mu.Unlock()
	byID := map[string][]ack{}
	for _, a := range l.rec.acks {
		byID[a.id] = append(byID[a.id], a)
	}
	for _, as := range byID {
		slices.SortFunc(as, func(a, b ack) int { return a.at.Compare(b.at) })
	}
	for _, rd := range l.rec.reads {
		if slices.ContainsFunc(excused, func(w window) bool { return w.holds(rd.sent) }) {
			continue
		}
		cutoff := rd.sent.Add(-bound)
		var want int64
		for _, a := range byID[rd.id] {
			if a.at.After(cutoff) {
				break
			}
			want = max(want, a.version)
		}
		if rd.version < want {
			stale++
			if example == "" {
				example = fmt.Sprintf("%s read v%d at %s (X-Cache %s), v%d acknowledged %v before",
					rd.id, rd.version, rd.sent.Format("15:04:05.000"), rd.cache, want, bound)
			}
		}
	}
	return stale, example
}

// p99 of the durations, 0 for none.
func p99(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)*99)/100]
}

// probeLatencies are the probes acknowledged inside w.
func (l *load) probeLatencies(w window) (ds []time.Duration, misses int) {
	l.rec.mu.Lock()
	defer l.rec.mu.Unlock()
	for _, p := range l.rec.probes {
		if w.holds(p.at) {
			ds = append(ds, p.latency)
			if !p.fresh {
				misses++
			}
		}
	}
	return ds, misses
}

// readLatencies are the latencies of the reads sent inside w.
func (l *load) readLatencies(w window) []time.Duration {
	l.rec.mu.Lock()
	defer l.rec.mu.Unlock()
	var ds []time.Duration
	for _, rd := range l.rec.reads {
		if w.holds(rd.sent) {
			ds = append(ds, rd.latency)
		}
	}
	return ds
}

// cachingResumed is how long after the fault healed the first read was
// served through the cache again, and how many reads bypassed it during
// the fault.
func (l *load) cachingResumed(fault window) (resumed time.Duration, bypassed int) {
	l.rec.mu.Lock()
	defer l.rec.mu.Unlock()
	resumed = -1
	for _, rd := range l.rec.reads {
		if fault.holds(rd.sent) && rd.cache == "BYPASS" {
			bypassed++
		}
		if rd.sent.After(fault.to) && rd.cache != "BYPASS" && (resumed < 0 || rd.sent.Sub(fault.to) < resumed) {
			resumed = rd.sent.Sub(fault.to)
		}
	}
	return resumed, bypassed
}

// acked counts id's writes acknowledged inside w.
func (l *load) acked(id string, w window) int {
	l.rec.mu.Lock()
	defer l.rec.mu.Unlock()
	n := 0
	for _, a := range l.rec.acks {
		if a.id == id && w.holds(a.at) {
			n++
		}
	}
	return n
}
