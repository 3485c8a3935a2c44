package chaos

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ticketsys/ticketsys/pkg/lifecycle"
)

// durations are a scenario's phases: short in make test, the issue's own
// with CHAOS=full (make chaos).
type durations struct {
	before, after time.Duration // load before the fault and after healing
	cut           time.Duration // Redis and NATS outages
	pgCut         time.Duration
	longOutage    time.Duration // the Redis outage after a poisoned event
	fresh         time.Duration // the bound on convergence after healing
	hotRate       int           // PATCHes per second on the hot ticket
}

func phases() durations {
	if os.Getenv("CHAOS") == "full" {
		return durations{before: 5 * time.Second, after: 5 * time.Second, cut: 10 * time.Second,
			pgCut: 5 * time.Second, longOutage: 3 * time.Minute, fresh: 2 * time.Second, hotRate: 1000}
	}
	// Short: every scenario once, so CI keeps the suite honest. Bounds on
	// losses stay exact; the convergence bound allows for a CI machine
	// also compiling and testing other packages.
	return durations{before: 2 * time.Second, after: 2 * time.Second, cut: 3 * time.Second,
		pgCut: 3 * time.Second, longOutage: 20 * time.Second, fresh: 5 * time.Second, hotRate: 1000}
}

func loadFor() loadConfig {
	if os.Getenv("CHAOS") == "full" {
		return loadConfig{tickets: 300, hot: 10, writeRate: 200, readRate: 400, writers: 8, readers: 8,
			probeEvery: 50 * time.Millisecond, freshnessDeadline: 5 * time.Second}
	}
	return loadConfig{tickets: 60, hot: 5, writeRate: 100, readRate: 200, writers: 4, readers: 4,
		probeEvery: 100 * time.Millisecond, freshnessDeadline: 5 * time.Second}
}

// staleBound is how old a read may be: a read sent this long after a write
// was acknowledged must show it, outside a fault and its recovery.
const staleBound = 2 * time.Second

// scenario is one fault and what must hold around it.
type scenario struct {
	name string
	opts systemOptions
	// fault breaks something under load and heals it; it returns when the
	// fault began and when it was healed.
	fault func(r *run) window
	// strict: no stale read is excused, not even during the fault.
	strict bool
	// converge: the cache must converge within durations.fresh of healing
	// (otherwise within the invalidator's longest retry).
	converge bool
	// allowed failure kinds (see failureKind): what the fault may cost.
	writeFailures, readFailures []string
	poisoned                    int // messages the scenario publishes that are no event
	check                       func(r *run, rep *report)
}

// run is one scenario under way.
type run struct {
	t   *testing.T
	s   *system
	l   *load
	d   durations
	ctx context.Context

	fault                              window // set once the fault is healed
	recovered                          time.Duration
	goroutinesBefore, goroutinesDuring float64
}

func TestChaos(t *testing.T) {
	d := phases()
	for _, sc := range scenarios(d) {
		t.Run(sc.name, func(t *testing.T) { runScenario(t, sc, d) })
	}
}

func runScenario(t *testing.T, sc scenario, d durations) {
	began := time.Now()
	s := newSystem(t, sc.opts)
	l := newLoad(s, loadFor())
	ready := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { l.run(ctx) })
	r := &run{t: t, s: s, l: l, d: d, ctx: ctx}
	rep := &report{scenario: sc.name}

	lifecycle.Sleep(ctx, d.before)
	fault := sc.fault(r)
	r.fault = fault
	bound := 30 * time.Second // RETRY_BACKOFF_MAX: an event that met the fault waits at most this
	if sc.converge {
		bound = d.fresh
	}
	conv, err := s.convergence(fault.to, 60*time.Second)
	rep.convergence = conv
	if err != nil {
		t.Errorf("%s", err)
	} else if conv > bound {
		t.Errorf("the cache converged %v after healing; the bound is %v", conv.Round(time.Millisecond), bound)
	}
	lifecycle.Sleep(ctx, d.after)
	cancel()
	wg.Wait()

	stopped := time.Now()
	s.audit(t, l, rep)
	rep.note("time: setup %v, load %v, settling and audits %v", ready.Sub(began).Round(100*time.Millisecond),
		stopped.Sub(ready).Round(100*time.Millisecond), time.Since(stopped).Round(100*time.Millisecond))
	var excused []window
	if !sc.strict {
		excused = []window{{fault.from, fault.to.Add(conv + staleBound)}}
	}
	rep.staleReads, rep.staleExample = l.staleReads(staleBound, excused)
	if sc.check != nil {
		sc.check(r, rep)
	}
	t.Log(rep.table())

	switch {
	case rep.writesLost > 0:
		t.Errorf("%d acknowledged writes are not in Postgres", rep.writesLost)
	case rep.eventsMissing+rep.eventsDuplicated+rep.eventsReordered+rep.eventsMismatched > 0:
		t.Errorf("the stream disagrees with Postgres: %d missing, %d duplicated, %d out of order, %d unlike the write",
			rep.eventsMissing, rep.eventsDuplicated, rep.eventsReordered, rep.eventsMismatched)
	}
	if rep.undecodable != sc.poisoned {
		t.Errorf("%d stream messages are no event; the scenario published %d", rep.undecodable, sc.poisoned)
	}
	if rep.outboxStuck > 0 {
		t.Errorf("%d outbox rows were never published", rep.outboxStuck)
	}
	if rep.staleEntries > 0 {
		t.Errorf("ticketctl cache check found %d stale entries", rep.staleEntries)
	}
	if rep.staleReads > 0 {
		t.Errorf("%d reads were stale beyond %v, e.g. %s", rep.staleReads, staleBound, rep.staleExample)
	}
	unexpected(t, "write", rep.writeFails, sc.writeFailures, rep.failSamples)
	unexpected(t, "read", rep.readFails, sc.readFailures, rep.failSamples)
}

func unexpected(t *testing.T, what string, got map[string]int, allowed []string, samples map[string]string) {
	t.Helper()
	for kind, n := range got {
		ok := false
		for _, a := range allowed {
			ok = ok || a == kind
		}
		if !ok {
			t.Errorf("%d %s failures of kind %q, e.g. %s", n, what, kind, samples[kind])
		}
	}
}

func scenarios(d durations) []scenario {
	return []scenario{
		{
			name: "redis-cut",
			fault: func(r *run) window {
				from := time.Now()
				cut(r.s.redisProxy)
				lifecycle.Sleep(r.ctx, r.d.cut)
				heal(r.t, r.s.redisProxy)
				return window{from, time.Now()}
			},
			check: func(r *run, rep *report) {
				resumed, bypass := r.l.cachingResumed(r.fault)
				rep.note("BYPASS reads during the cut: %d; caching resumed %v after healing", bypass, resumed.Round(time.Millisecond))
				if resumed < 0 || resumed > 2*time.Second {
					r.t.Errorf("caching resumed %v after Redis came back; the bound is 2s", resumed)
				}
			},
		},
		{
			name: "redis-latency-200ms",
			fault: func(r *run) window {
				from := time.Now()
				addToxic(r.t, r.s.redisProxy, `{"name":"slow","type":"latency","stream":"downstream","attributes":{"latency":200}}`)
				lifecycle.Sleep(r.ctx, r.d.cut)
				removeToxic(r.t, r.s.redisProxy, "slow")
				return window{from, time.Now()}
			},
			check: func(r *run, rep *report) {
				all := r.l.readLatencies(window{time.Time{}, time.Now()})
				slow := r.l.readLatencies(r.fault)
				rep.note("read p99 over the run %v, during the latency %v", p99(all).Round(time.Millisecond), p99(slow).Round(time.Millisecond))
				// The breaker falls back to Postgres: reads must not all pay the 200 ms.
				if p99(slow) > 400*time.Millisecond {
					r.t.Errorf("read p99 during 200ms Redis latency is %v; the breaker should bound it", p99(slow))
				}
			},
		},
		{
			name:     "redis-flushall",
			strict:   true,
			converge: true,
			fault: func(r *run) window {
				at := time.Now()
				if err := r.s.rdb.FlushAll(r.ctx).Err(); err != nil {
					r.t.Fatal(err)
				}
				return window{at, at}
			},
		},
		{
			name:   "redis-restart-empty",
			strict: true,
			fault: func(r *run) window {
				from := time.Now()
				if err := r.s.rdb.FlushAll(r.ctx).Err(); err != nil {
					r.t.Fatal(err)
				}
				r.s.redis.Stop()
				lifecycle.Sleep(r.ctx, time.Second)
				r.s.redis.Start(r.t)
				return window{from, time.Now()}
			},
		},
		{
			name:     "nats-cut",
			converge: true,
			fault: func(r *run) window {
				// A partition, not a refusal: bytes stop in both directions
				// and the connections stay open, as behind a dead switch.
				from := time.Now()
				addToxic(r.t, r.s.natsProxy, `{"name":"down","type":"timeout","stream":"downstream","attributes":{"timeout":0}}`)
				addToxic(r.t, r.s.natsProxy, `{"name":"up","type":"timeout","stream":"upstream","attributes":{"timeout":0}}`)
				lifecycle.Sleep(r.ctx, r.d.cut)
				removeToxic(r.t, r.s.natsProxy, "down")
				removeToxic(r.t, r.s.natsProxy, "up")
				return window{from, time.Now()}
			},
		},
		{
			name:     "nats-killed-restarted",
			converge: true,
			fault: func(r *run) window {
				from := time.Now()
				r.s.nats.Kill(0)
				lifecycle.Sleep(r.ctx, r.d.cut)
				r.s.nats.Start(r.t, 0)
				return window{from, time.Now()}
			},
		},
		{
			name:     "invalidator-sigkill",
			converge: true,
			fault: func(r *run) window {
				from := time.Now()
				r.s.invalidator.Kill()
				lifecycle.Sleep(r.ctx, r.d.cut/2)
				r.s.invalidator.Restart(r.t)
				return window{from, time.Now()}
			},
		},
		{
			name:          "command-sigkill",
			converge:      true,
			writeFailures: []string{"transport"}, // requests to the dead process: never acknowledged
			fault: func(r *run) window {
				from := time.Now()
				r.s.commands[0].Kill()
				lifecycle.Sleep(r.ctx, time.Second)
				r.s.commands[0].Restart(r.t)
				return window{from, time.Now()}
			},
		},
		{
			name:          "relay-leader-sigkill",
			opts:          systemOptions{commands: 2},
			converge:      true,
			writeFailures: []string{"transport"},
			fault: func(r *run) window {
				leader, ok := r.s.relayLeader()
				if !ok {
					r.t.Fatal("no command instance reports ticketsys_outbox_relay_active 1")
				}
				from := time.Now()
				r.s.commands[leader].Kill()
				lifecycle.Sleep(r.ctx, time.Second)
				r.s.commands[leader].Restart(r.t)
				return window{from, time.Now()}
			},
			check: func(r *run, rep *report) {
				if leader, ok := r.s.relayLeader(); ok {
					rep.note("relay leader after the kill: command %d", leader)
				}
			},
		},
		{
			// The relay publishes a hot ticket's events chained, each after
			// the previous one's acknowledgement, so the hot ticket keeps up
			// too and converges like the others.
			name:     "hot-ticket",
			converge: true,
			fault: func(r *run) window {
				from := time.Now()
				hctx, stop := context.WithTimeout(r.ctx, r.d.cut)
				defer stop()
				r.l.hot(hctx, r.l.ids[0], r.d.hotRate, 8)
				return window{from, time.Now()}
			},
			check: func(r *run, rep *report) {
				base, _ := r.l.probeLatencies(window{time.Time{}, r.fault.from})
				hot, misses := r.l.probeLatencies(r.fault)
				rep.note("other tickets' write → fresh p99: %v before, %v with the hot ticket (%d probes, %d never fresh)",
					p99(base).Round(time.Millisecond), p99(hot).Round(time.Millisecond), len(hot), misses)
				rep.note("hot ticket: %d writes acknowledged", r.l.acked(r.l.ids[0], r.fault))
				if limit := max(3*p99(base), 250*time.Millisecond); p99(hot) > limit || misses > 0 {
					r.t.Errorf("a hot ticket slowed the others: write → fresh p99 %v (before %v, limit %v), %d never fresh",
						p99(hot), p99(base), limit, misses)
				}
			},
		},
		{
			name:          "postgres-cut",
			converge:      true,
			writeFailures: []string{"503"}, // with Retry-After (failureKind), never a 500
			readFailures:  []string{"list 503"},
			fault: func(r *run) window {
				from := time.Now()
				cut(r.s.pgProxy)
				lifecycle.Sleep(r.ctx, r.d.pgCut)
				heal(r.t, r.s.pgProxy)
				healed := time.Now()
				// Recovery without a restart: the next write goes through.
				for r.l.patch(r.l.ids[len(r.l.ids)-1], "after the cut") == 0 {
					if time.Since(healed) > 10*time.Second {
						r.t.Fatal("writes did not recover within 10s of Postgres coming back")
					}
					time.Sleep(50 * time.Millisecond) // retry interval
				}
				r.recovered = time.Since(healed)
				return window{from, healed}
			},
			check: func(r *run, rep *report) {
				rep.note("first write acknowledged %v after Postgres came back", r.recovered.Round(time.Millisecond))
			},
		},
		{
			name:     "poisoned-event-then-long-redis-outage",
			poisoned: 1,
			// The invalidator holds deliveries while Redis does not answer:
			// only the poisoned message is dead-lettered, and the backlog
			// of the outage is applied once Redis is back.
			opts: systemOptions{invalidEnv: map[string]string{"DLQ_MAX_MSGS": strconv.Itoa(dlqCap)}},
			fault: func(r *run) window {
				nc, err := nats.Connect(r.s.nats.URL())
				if err != nil {
					r.t.Fatal(err)
				}
				defer nc.Close()
				if err := nc.Publish("tickets.changed.00000000-0000-4000-8000-000000000000", []byte("{not an event")); err != nil {
					r.t.Fatal(err)
				}
				r.goroutinesBefore = scrapeMust(r.t, r.s.invalidator.URL(), "go_goroutines")
				from := time.Now()
				cut(r.s.redisProxy)
				lifecycle.Sleep(r.ctx, r.d.longOutage)
				r.goroutinesDuring = scrapeMust(r.t, r.s.invalidator.URL(), "go_goroutines")
				heal(r.t, r.s.redisProxy)
				return window{from, time.Now()}
			},
			check: func(r *run, rep *report) {
				info, err := r.s.js.Stream(context.Background(), "TICKETS_DLQ")
				if err != nil {
					r.t.Fatalf("the DLQ stream: %v", err)
				}
				st, err := info.Info(context.Background())
				if err != nil {
					r.t.Fatal(err)
				}
				rep.note("DLQ: %d messages (cap %d); invalidator goroutines %v before the outage, %v at its end",
					st.State.Msgs, dlqCap, r.goroutinesBefore, r.goroutinesDuring)
				// An outage is no event's fault: the poisoned message alone.
				if st.State.Msgs != 1 {
					r.t.Errorf("DLQ holds %d messages; want the poisoned one only", st.State.Msgs)
				}
				if r.goroutinesDuring > r.goroutinesBefore+50 {
					r.t.Errorf("invalidator goroutines grew from %v to %v during the outage", r.goroutinesBefore, r.goroutinesDuring)
				}
			},
		},
	}
}

// dlqCap is the DLQ bound the poisoned-event scenario sets.
const dlqCap = 200

// scrapeGauge reads the first sample of a metric whose name ends in name
// from a service's /metrics.
func scrapeGauge(base, name string) (float64, bool) {
	res, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, false
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		metric, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		metric, _, _ = strings.Cut(metric, "{")
		if metric == name || strings.HasSuffix(metric, "_"+name) {
			v, err := strconv.ParseFloat(value, 64)
			return v, err == nil
		}
	}
	return 0, false
}

func scrapeMust(t testing.TB, base, name string) float64 {
	t.Helper()
	v, ok := scrapeGauge(base, name)
	if !ok {
		t.Fatalf("%s/metrics has no %s", base, name)
	}
	return v
}

// String names a window for messages.
func (w window) String() string {
	return fmt.Sprintf("%s–%s", w.from.Format("15:04:05.000"), w.to.Format("15:04:05.000"))
}
