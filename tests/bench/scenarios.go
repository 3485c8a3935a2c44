package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
)

// freshTickets is how many tickets the write -> fresh run changes in turn.
const freshTickets = 200

func run(ctx context.Context, sz Size, profiles string, log io.Writer) (*Report, error) {
	started := time.Now()
	st, err := newStack(ctx, log)
	if err != nil {
		return nil, err
	}
	st.profiles = profiles
	defer st.close()
	rep := &Report{Size: sz.Name, Date: started.UTC().Format(time.RFC3339)}
	rep.Machine = machineFacts(ctx, st)

	mainDB, err := st.database(ctx, "main")
	if err != nil {
		return nil, err
	}
	floorDB, err := st.database(ctx, "floor")
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "bench: seeding %d tickets\n", sz.HotRows+sz.MissRows+freshTickets)
	hot, err := seedTickets(ctx, sz.HotRows, mainDB)
	if err != nil {
		return nil, err
	}
	miss, err := seedTickets(ctx, sz.MissRows, mainDB, floorDB)
	if err != nil {
		return nil, err
	}
	fresh, err := seedTickets(ctx, freshTickets, mainDB)
	if err != nil {
		return nil, err
	}

	command, err := st.start(ctx, "command", "command", st.env("DATABASE_URL="+mainDB), "/readyz")
	if err != nil {
		return nil, err
	}
	query, err := st.start(ctx, "query", "query", st.env("READ_DATABASE_URL="+mainDB), "/readyz")
	if err != nil {
		return nil, err
	}
	invalidator, err := st.start(ctx, "cache-invalidator", "cache-invalidator", st.env(), "/readyz")
	if err != nil {
		return nil, err
	}

	// Warm the cache: every hot ticket and the list page once.
	const listPath = "/tickets?status=open&limit=50"
	hdr := bearer(st.token)
	for _, id := range hot {
		if _, err := get(query.url+"/tickets/"+id, hdr); err != nil {
			return nil, err
		}
	}
	if _, err := get(query.url+listPath, hdr); err != nil {
		return nil, err
	}
	keys := ticketcache.Keys{Prefix: st.prefix}
	gen, _ := st.rdb.Get(ctx, keys.Gen("open", "")).Int64()
	listKey := keys.List(ticketcache.ListQuery{Status: "open", SortBy: "created_at", Order: "desc", Limit: 50}, gen)
	floor, err := st.start(ctx, "floor", "floor", st.env("DATABASE_URL="+floorDB, "FLOOR_LIST_KEY="+listKey), "/list")
	if err != nil {
		return nil, err
	}

	hit := func(r *vegeta.Result) bool { return r.Code == 200 && r.Headers.Get("X-Cache") == "HIT" }
	okCode := func(code uint16) func(*vegeta.Result) bool {
		return func(r *vegeta.Result) bool { return r.Code == code }
	}
	get := func(base string, ids []string, h http.Header) target {
		return func(i uint64, t *vegeta.Target) {
			t.Method, t.URL, t.Header = http.MethodGet, base+ids[i%uint64(len(ids))], h
		}
	}

	var p, f side
	if sz.want("read-hit") {
		fmt.Fprintln(log, "bench: read hit")
		p, f = abab(ctx, sz,
			st.profiled(query, "read-hit", sz.Turn, func() side {
				return closedLoop(ctx, sz.Workers, sz.Turn, get(query.url+"/tickets/", hot, hdr), hit)
			}),
			func() side {
				return closedLoop(ctx, sz.Workers, sz.Turn, get(floor.url+"/tickets/", hot, nil), okCode(200))
			})
		rep.throughput("read hit: GET /tickets/{id}, 1,000 hot tickets", "gin + one go-redis GET of the same key", p, f, 0.8)

	}

	if sz.want("list-hit") {
		fmt.Fprintln(log, "bench: list hit")
		p, f = abab(ctx, sz,
			st.profiled(query, "list-hit", sz.Turn, func() side {
				return closedLoop(ctx, sz.Workers, sz.Turn, get(query.url+listPath, []string{""}, hdr), hit)
			}),
			func() side {
				return closedLoop(ctx, sz.Workers, sz.Turn, get(floor.url+"/list", []string{""}, nil), okCode(200))
			})
		rep.throughput("list hit: GET "+listPath, "the same bare handler over the cached page's bytes", p, f, 0.8)

	}

	if sz.want("read-miss") {
		fmt.Fprintln(log, "bench: read miss")
		var next atomic.Uint64 // each project read takes a ticket nobody read yet
		missTarget := func(i uint64, t *vegeta.Target) {
			t.Method, t.URL, t.Header = http.MethodGet, query.url+"/tickets/"+miss[next.Add(1)%uint64(len(miss))], hdr
		}
		isMiss := func(r *vegeta.Result) bool { return r.Code == 200 && r.Headers.Get("X-Cache") == "MISS" }
		p, f = abab(ctx, sz,
			st.profiled(query, "read-miss", sz.Turn, func() side {
				return closedLoop(ctx, sz.Workers, sz.Turn, missTarget, isMiss)
			}),
			func() side {
				return closedLoop(ctx, sz.Workers, sz.Turn, get(floor.url+"/rows/", miss, nil), okCode(200))
			})
		rep.throughput("read miss: GET /tickets/{id}, not cached", "gin + the same row by one bare pgx query", p, f, 0.7)

	}

	if sz.want("herd") {
		fmt.Fprintln(log, "bench: herd")
		herd, err := herdReads(ctx, st, query, miss[len(miss)-1], sz.HerdSize)
		if err != nil {
			return nil, err
		}
		rep.Rows = append(rep.Rows, Row{Scenario: fmt.Sprintf("Postgres reads for %d concurrent misses on one key", sz.HerdSize),
			Project: strconv.Itoa(herd), Floor: "-", Value: float64(herd), Target: "= 1", Met: herd == 1})

	}

	if sz.want("write") {
		fmt.Fprintln(log, "bench: write")
		body := `{"title":"Printer on floor 3 is jammed","description":"Paper tray 2","priority":"high","tags":["hardware"]}`
		post := func(base string, h http.Header) target {
			hh := http.Header{"Content-Type": {"application/json"}}
			for k, v := range h {
				hh[k] = v
			}
			return func(_ uint64, t *vegeta.Target) {
				t.Method, t.URL, t.Header, t.Body = http.MethodPost, base+"/tickets", hh, []byte(body)
			}
		}
		p, f = abab(ctx, sz,
			st.profiled(command, "write", sz.Turn, func() side {
				return closedLoop(ctx, sz.Workers, sz.Turn, post(command.url, hdr), okCode(201))
			}),
			func() side { return closedLoop(ctx, sz.Workers, sz.Turn, post(floor.url, nil), okCode(201)) })
		rep.throughput("write: POST /tickets", "one pgx transaction: the ticket and an outbox row", p, f, 0.8)

	}

	if sz.want("fresh") {
		// Lower rates first, for the shape of the curve; the target is the
		// last one's.
		for _, rate := range []int{sz.FreshRate / 5, sz.FreshRate / 2, sz.FreshRate} {
			fmt.Fprintf(log, "bench: write -> fresh at %d writes/s\n", rate)
			fr, err := writeToFresh(ctx, st, command, fresh, rate, sz.FreshFor)
			if err != nil {
				return nil, err
			}
			row := Row{Scenario: fmt.Sprintf("write -> fresh p99 at %d writes/s, open loop", rate),
				Project: fmt.Sprintf("p50 %s, p99 %s, max %s (%d writes, %d failed %v)", ms(fr.p50), ms(fr.p99), ms(fr.max),
					fr.writes, fr.failed, fr.codes),
				Floor: "-", Value: float64(fr.p99) / float64(time.Millisecond), Target: "-", Met: true}
			if rate == sz.FreshRate {
				row.Target, row.Met = "<= 10 ms", fr.p99 <= 10*time.Millisecond && fr.failed == 0 && fr.unseen == 0
			}
			rep.Rows = append(rep.Rows, row)
		}
	}

	for _, p := range []*proc{command, query, invalidator} {
		rss, err := p.peakRSS()
		if err != nil {
			return nil, err
		}
		rep.Rows = append(rep.Rows, Row{Scenario: "peak RSS of " + p.name + " under the loads above",
			Project: fmt.Sprintf("%.1f MiB", float64(rss)/(1<<20)), Floor: "-", Value: float64(rss) / (1 << 20),
			Target: "<= 64 MiB", Met: rss <= 64<<20})
	}

	if sz.want("lists") {
		fmt.Fprintln(log, "bench: uncached lists at two sizes")
		if err := listScale(ctx, st, sz, rep, log); err != nil {
			return nil, err
		}

	}

	rep.Seconds = time.Since(started).Seconds()
	return rep, nil
}

// get reads u and returns the answer's headers; anything but 200 is an error.
func get(u string, h http.Header) (http.Header, error) {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header = h.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusOK {
		return res.Header, fmt.Errorf("GET %s: %d", u, res.StatusCode)
	}
	return res.Header, nil
}

// herdReads sends n concurrent reads of one uncached ticket and returns how
// many Postgres reads they caused, from the query service's own count.
func herdReads(ctx context.Context, st *stack, query *proc, id string, n int) (int, error) {
	before, err := metric(query.url, `ticketsys_cache_loads_total{kind="ticket"}`)
	if err != nil {
		return 0, err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: n}}
	start := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range n {
		wg.Go(func() {
			<-start
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, query.url+"/tickets/"+id, nil)
			req.Header = bearer(st.token)
			res, err := client.Do(req)
			if err != nil {
				failed.Add(1)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				failed.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return 0, fmt.Errorf("herd: %d reads failed", n)
	}
	after, err := metric(query.url, `ticketsys_cache_loads_total{kind="ticket"}`)
	return int(after - before), err
}

// metric reads one series from a service's /metrics.
func metric(base, series string) (float64, error) {
	res, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, nil
}

type freshness struct {
	p50, p99, max          time.Duration
	writes, failed, unseen int
	codes                  map[uint16]int // of the failed writes
}

// writeToFresh PATCHes the tickets in turn at rate per second for d, open
// loop, and measures for each write the time from its response to ticket:{id}
// in Redis holding its version: what a read served from the cache sees. A
// poller reads every pending key once a millisecond.
func writeToFresh(ctx context.Context, st *stack, command *proc, ids []string, rate int, d time.Duration) (freshness, error) {
	type pending struct {
		id      string
		version int64
		at      time.Time
	}
	var (
		mu    sync.Mutex
		queue []pending
		lat   []time.Duration
		done  = make(chan struct{})
		fr    freshness
	)
	keys := ticketcache.Keys{Prefix: st.prefix}
	var pollers sync.WaitGroup
	pollers.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		finishing := false
		var deadline time.Time
		for {
			select {
			case <-done:
				if !finishing {
					finishing, deadline = true, time.Now().Add(10*time.Second)
				}
			case <-tick.C:
			}
			mu.Lock()
			batch := append([]pending(nil), queue...)
			mu.Unlock()
			if len(batch) == 0 && finishing {
				return
			}
			if finishing && time.Now().After(deadline) {
				mu.Lock()
				fr.unseen = len(queue)
				mu.Unlock()
				return
			}
			if len(batch) == 0 {
				continue
			}
			ks := make([]string, len(batch))
			for i, p := range batch {
				ks[i] = keys.Ticket(p.id)
			}
			vals, err := st.rdb.MGet(ctx, ks...).Result()
			if err != nil {
				continue
			}
			now := time.Now()
			seen := map[int]bool{}
			for i, v := range vals {
				s, ok := v.(string)
				if !ok {
					continue
				}
				if e, err := ticketcache.ParseEntry([]byte(s)); err == nil && e.Version >= batch[i].version {
					lat = append(lat, now.Sub(batch[i].at))
					seen[i] = true
				}
			}
			mu.Lock()
			rest := queue[:0]
			for i, p := range queue {
				if i >= len(batch) || !seen[i] {
					rest = append(rest, p)
				}
			}
			queue = rest
			mu.Unlock()
		}
	})
	hdr := bearer(st.token)
	hdr.Set("Content-Type", "application/json")
	s := openLoop(ctx, rate, d, func(i uint64, t *vegeta.Target) {
		t.Method, t.URL, t.Header = http.MethodPatch, command.url+"/tickets/"+ids[i%uint64(len(ids))], hdr
		t.Body = []byte(`{"title":"version ` + strconv.FormatUint(i, 10) + `"}`)
	}, func(r *vegeta.Result) {
		if r.Code != http.StatusOK {
			mu.Lock()
			if fr.codes == nil {
				fr.codes = map[uint16]int{}
			}
			fr.codes[r.Code]++
			mu.Unlock()
			return
		}
		tags, _ := httpx.ParseEntityTags(r.Headers.Get("ETag"))
		if len(tags) != 1 {
			return
		}
		id := r.URL[strings.LastIndexByte(r.URL, '/')+1:]
		mu.Lock()
		queue = append(queue, pending{id: id, version: tags[0].Version, at: r.End()})
		mu.Unlock()
	})
	close(done)
	pollers.Wait()
	fr.writes, fr.failed = int(s.Requests), int(s.Failed)
	if len(lat) == 0 {
		return fr, fmt.Errorf("write -> fresh: no write became fresh (%d writes, %d failed)", fr.writes, fr.failed)
	}
	fr.p50, fr.p99, fr.max = percentile(lat, 0.50), percentile(lat, 0.99), percentile(lat, 1)
	return fr, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
