package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/lifecycle"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

// report is one scenario's table.
type report struct {
	scenario         string
	writes, reads    int
	writeFails       map[string]int
	readFails        map[string]int
	failSamples      map[string]string
	writesLost       int
	eventsMissing    int
	eventsDuplicated int
	eventsReordered  int
	eventsMismatched int // an event whose ticket differs from the acknowledged write of its version
	outboxStuck      int
	undecodable      int // stream messages that are no event (a scenario's poison)
	staleEntries     int // cached entries that differ from Postgres after convergence
	staleReads       int // reads older than the staleness bound, outside the excused windows
	staleExample     string
	convergence      time.Duration // fault healed → every cached ticket at least as new as Postgres then
	notes            []string      // scenario-specific measurements
}

func (r *report) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func (r *report) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n== %s\n", r.scenario)
	row := func(k string, v any) { fmt.Fprintf(&b, "  %-40s %v\n", k, v) }
	row("writes sent", r.writes)
	row("write failures by kind", kinds(r.writeFails))
	row("reads sent", r.reads)
	row("read failures by kind", kinds(r.readFails))
	row("acknowledged writes lost", r.writesLost)
	row("events missing", r.eventsMissing)
	row("events duplicated", r.eventsDuplicated)
	row("events out of order", r.eventsReordered)
	row("events unlike the acknowledged write", r.eventsMismatched)
	row("outbox rows stuck", r.outboxStuck)
	row("stream messages that are no event", r.undecodable)
	row("stale cache entries after convergence", r.staleEntries)
	row("stale reads (beyond the bound)", r.staleReads)
	row("convergence after healing", r.convergence.Round(time.Millisecond))
	for _, n := range r.notes {
		fmt.Fprintf(&b, "  %s\n", n)
	}
	return b.String()
}

func kinds(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// settle waits until everything committed is published and applied: no
// unsent outbox row, nothing pending or unacknowledged on the consumer.
func (s *system) settle(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last string
	for ctx.Err() == nil {
		unsent, err := s.unsent(ctx)
		if err == nil && unsent == 0 {
			c, cerr := s.js.Consumer(ctx, "TICKETS", "cache-invalidator")
			if cerr == nil {
				info, ierr := c.Info(ctx)
				if ierr == nil && info.NumPending == 0 && info.NumAckPending == 0 {
					return nil
				}
				err = ierr
				if ierr == nil {
					last = fmt.Sprintf("consumer: %d pending, %d unacknowledged", info.NumPending, info.NumAckPending)
				}
			} else {
				err = cerr
			}
		} else if err == nil {
			last = fmt.Sprintf("%d outbox rows unsent", unsent)
		}
		if err != nil {
			last = err.Error()
		}
		lifecycle.Sleep(ctx, 50*time.Millisecond)
	}
	return fmt.Errorf("never settled within %v (last: %s)", timeout, last)
}

func (s *system) unsent(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n)
	return n, err
}

// versions is every ticket's version in Postgres now.
func (s *system) versions(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT id::text, version FROM tickets`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var v int64
		if err := rows.Scan(&id, &v); err != nil {
			return nil, err
		}
		out[id] = v
	}
	return out, rows.Err()
}

// behind counts the cached tickets older than want (id → version).
func (s *system) behind(ctx context.Context, want map[string]int64) (int, error) {
	keys := ticketcache.Keys{}
	ids := make([]string, 0, len(want))
	names := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
		names = append(names, keys.Ticket(id))
	}
	// One GET per key in a pipeline: MGET cannot span a Cluster's slots.
	cmds := make([]*redis.StringCmd, len(names))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, name := range names {
			cmds[i] = p.Get(ctx, name)
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	n := 0
	for i, c := range cmds {
		str, err := c.Result()
		if err != nil {
			continue // not cached: the next read fills it from Postgres
		}
		var e struct {
			Version int64 `json:"version"`
		}
		if json.Unmarshal([]byte(str), &e) != nil || e.Version < want[ids[i]] {
			n++
		}
	}
	return n, nil
}

// convergence waits until every cached ticket is at least as new as
// Postgres was at healed, and returns how long that took.
func (s *system) convergence(healed time.Time, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	want, err := s.versions(ctx)
	if err != nil {
		return 0, err
	}
	var last error
	for ctx.Err() == nil {
		n, err := s.behind(ctx, want)
		if err == nil && n == 0 {
			return time.Since(healed), nil
		}
		last = err
		if err == nil {
			last = fmt.Errorf("%d cached tickets older than Postgres", n)
		}
		lifecycle.Sleep(ctx, 20*time.Millisecond)
	}
	return time.Since(healed), fmt.Errorf("the cache did not converge within %v: %w", timeout, last)
}

// audit fills r from Postgres, the outbox, the stream and the cache, after
// the load stopped and the system settled.
func (s *system) audit(t testing.TB, l *load, r *report) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.settle(time.Minute); err != nil {
		t.Errorf("%s: %v", r.scenario, err)
	}
	l.rec.mu.Lock()
	r.writes, r.reads = l.rec.writes, l.rec.readsDone
	r.writeFails, r.readFails, r.failSamples = l.rec.writeFails, l.rec.readFails, l.rec.samples
	acks := append([]ack(nil), l.rec.acks...)
	l.rec.mu.Unlock()

	pg, err := s.versions(ctx)
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	// Every acknowledged write is in Postgres.
	for _, a := range acks {
		if pg[a.id] < a.version {
			r.writesLost++
		}
	}
	if r.outboxStuck, err = s.unsent(ctx); err != nil {
		t.Fatalf("audit: %v", err)
	}
	// A killed NATS node may still be the meta leader for a few seconds.
	events, undecodable, err := s.streamEvents(ctx)
	for deadline := time.Now().Add(30 * time.Second); err != nil && time.Now().Before(deadline); {
		lifecycle.Sleep(ctx, 500*time.Millisecond)
		events, undecodable, err = s.streamEvents(ctx)
	}
	r.undecodable = undecodable
	if err != nil {
		t.Fatalf("audit: reading the stream: %v", err)
	}
	// One event per version, in order per ticket, and each carries what was acknowledged.
	titles := map[string]map[int64]string{}
	for id, evs := range events {
		titles[id] = map[int64]string{}
		var prev int64
		seen := map[int64]bool{}
		for _, ev := range evs {
			if seen[ev.version] {
				r.eventsDuplicated++
				continue
			}
			seen[ev.version] = true
			if ev.version < prev {
				r.eventsReordered++
			}
			prev = max(prev, ev.version)
			titles[id][ev.version] = ev.title
		}
	}
	for id, v := range pg {
		for want := int64(1); want <= v; want++ {
			if _, ok := titles[id][want]; !ok {
				r.eventsMissing++
			}
		}
	}
	for _, a := range acks {
		if got, ok := titles[a.id][a.version]; ok && got != a.title {
			r.eventsMismatched++
		}
	}
	r.staleEntries, err = s.cacheCheck(ctx)
	if err != nil {
		t.Errorf("audit: %v", err)
	}
}

type streamEvent struct {
	version int64
	title   string
}

// streamEvents reads the whole TICKETS stream, in stream order, per
// ticket, and counts the messages that are no event.
func (s *system) streamEvents(ctx context.Context) (events map[string][]streamEvent, undecodable int, err error) {
	stream, err := s.js.Stream(ctx, "TICKETS")
	if err != nil {
		return nil, 0, err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, 0, err
	}
	out := map[string][]streamEvent{}
	if info.State.Msgs == 0 {
		return out, 0, nil
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, 0, err
	}
	for read := uint64(0); read < info.State.Msgs; {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, 0, err
		}
		for msg := range batch.Messages() {
			read++
			ct := msg.Headers()[ticketevent.HeaderContentType]
			var contentType string
			if len(ct) > 0 {
				contentType = ct[0]
			}
			ev, err := ticketevent.Unmarshal(contentType, msg.Data())
			if err != nil {
				undecodable++
				continue
			}
			out[ev.GetTicketId()] = append(out[ev.GetTicketId()],
				streamEvent{version: ev.GetVersion(), title: ev.GetTicket().GetTitle()})
		}
		if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return nil, 0, err
		}
	}
	return out, undecodable, nil
}

// cacheCheck runs ticketctl cache check, the operators' audit of every
// cached ticket and list page against Postgres, and returns how many
// entries it found stale.
func (s *system) cacheCheck(ctx context.Context) (int, error) {
	cmd := exec.CommandContext(ctx, binaries["ticketctl"], "cache", "check", "--json", "--grace", "2s")
	cmd.Env = append(cmd.Environ(), "REDIS_URL="+s.redisURL(), "DATABASE_URL="+s.dbURL, "LOG_LEVEL=error")
	if s.rc != nil {
		cmd.Env = append(cmd.Env, "REDIS_CLUSTER=true")
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit) && exit.ExitCode() == 3:
		return strings.Count(out.String(), `"verdict":"stale"`), nil
	default:
		return 0, fmt.Errorf("ticketctl cache check: %w\n%s%s", err, out.String(), errOut.String())
	}
}

// redisURL is the Redis the audits read, directly.
func (s *system) redisURL() string {
	if s.rc != nil {
		return s.rc.URL()
	}
	return s.redis.URL()
}
