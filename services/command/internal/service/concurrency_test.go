package service_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// burst sends n requests at once: every goroutine waits at a barrier, so
// the requests overlap instead of running one after another. answered
// counts the responses as they come.
func burst(n int, answered *atomic.Int32, send func(i int) resp) []resp {
	out := make([]resp, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = send(i)
			if answered != nil {
				answered.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	return out
}

// wideStart starts an instance whose pool can hold every request of a burst
// in the database at once (the default is four connections).
func (s *stack) wideStart() *instance {
	sep := "?"
	if strings.Contains(s.dbURL, "?") {
		sep = "&"
	}
	return s.start("DATABASE_URL", s.dbURL+sep+"pool_max_conns=32")
}

// lockWaiters counts the sessions of the test's database waiting on a lock.
func (s *stack) lockWaiters() int {
	var n int
	_ = s.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
	return n
}

// hold runs sql in a transaction of its own and keeps it open until the
// returned release is called.
func (s *stack) hold(sql string, args ...any) (release func()) {
	s.t.Helper()
	conn, err := pgx.Connect(context.Background(), s.dbURL)
	if err != nil {
		s.t.Fatal(err)
	}
	tx, err := conn.Begin(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), sql, args...); err != nil {
		s.t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			_ = tx.Rollback(context.Background())
			_ = conn.Close(context.Background())
		})
	}
	s.t.Cleanup(release)
	return release
}

// Twenty PUTs with If-Match "1" all wait on the ticket's row lock, then run:
// one wins, nineteen find version 2 and answer 412. The row and the events
// say the same.
func TestConcurrentIfMatchOneWins(t *testing.T) {
	t.Parallel()
	s := newStack(t, "")
	srv := s.wideStart()
	tk := createTicket(t, srv, "race")

	release := s.hold(`SELECT 1 FROM tickets WHERE id = $1 FOR UPDATE`, tk.ID)
	done := make(chan []resp, 1)
	go func() {
		done <- burst(20, nil, func(i int) resp {
			return do(t, srv, http.MethodPut, "/tickets/"+tk.ID, fmt.Sprintf(`{"title":"writer %d"}`, i), "If-Match", `"1"`)
		})
	}()
	testinfra.Eventually(t, 60*time.Second, func() bool { return s.lockWaiters() == 20 },
		"the twenty writes never all waited on the row lock")
	release()
	count := map[int]int{}
	var winner string
	for _, r := range <-done {
		count[r.status]++
		if r.status == http.StatusOK {
			winner = r.ticket(t).Title
		}
	}
	if count[200] != 1 || count[412] != 19 {
		t.Fatalf("statuses %v, want one 200 and nineteen 412", count)
	}
	var title string
	var version int
	if err := s.pool.QueryRow(t.Context(), `SELECT title, version FROM tickets WHERE id = $1`, tk.ID).Scan(&title, &version); err != nil {
		t.Fatal(err)
	}
	if title != winner || version != 2 {
		t.Fatalf("stored %q v%d, want the winner's %q at v2", title, version, winner)
	}
	msgs := s.waitMessages(2)
	if got := msgs[1].event.GetTicket().GetTitle(); got != winner {
		t.Fatalf("the update event carries %q, want %q", got, winner)
	}
}

// Twenty POSTs with one Idempotency-Key: the first to claim the key is held
// in its transaction (the outbox is locked), so the other nineteen find the
// key in flight (409). Once it commits, retries replay it. One ticket, one
// event.
func TestConcurrentIdempotentPostsMakeOneTicket(t *testing.T) {
	t.Parallel()
	s := newStack(t, "")
	srv := s.wideStart()

	release := s.hold(`LOCK TABLE outbox IN EXCLUSIVE MODE`)
	var answered atomic.Int32
	done := make(chan []resp, 1)
	go func() {
		done <- burst(20, &answered, func(int) resp {
			return do(t, srv, http.MethodPost, "/tickets", `{"title":"only one"}`, "Idempotency-Key", "same-key")
		})
	}()
	// The others answer while the first is still held at the outbox.
	testinfra.Eventually(t, 60*time.Second, func() bool { return answered.Load() == 19 },
		"not nineteen answers while one request holds the key")
	release()
	count := map[int]int{}
	var id string
	for _, r := range <-done {
		count[r.status]++
		if r.status == http.StatusCreated {
			id = r.ticket(t).ID
		}
	}
	if count[201] != 1 || count[409] != 19 {
		t.Fatalf("statuses %v, want one 201 and nineteen 409 (in flight)", count)
	}
	for _, r := range burst(5, nil, func(int) resp {
		return do(t, srv, http.MethodPost, "/tickets", `{"title":"only one"}`, "Idempotency-Key", "same-key")
	}) {
		mustStatus(t, r, http.StatusCreated)
		if r.header.Get("Idempotent-Replayed") != "true" || r.ticket(t).ID != id {
			t.Fatalf("a retry after the commit: %s %v, want a replay of %s", r.body, r.header, id)
		}
	}
	var n int
	var title string
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*), max(title) FROM tickets`).Scan(&n, &title); err != nil || n != 1 || title != "only one" {
		t.Fatalf("%d tickets stored, title %q (%v), want one", n, title, err)
	}
	s.waitMessages(1)
}
