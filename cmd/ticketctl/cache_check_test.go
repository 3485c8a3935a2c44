package main

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/ticketcache"
)

func TestCacheCheckFreshTombstoneSupersededAndSkipped(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	ctx := context.Background()
	a := f.insert("Printer jammed", "open", "high", "alice")
	b := f.insert("VPN down", "open", "low", "bob")
	c := f.insert("Old ticket", "closed", "medium", "")
	f.cacheTicket(a)
	if _, err := f.cache.SetTombstone(ctx, c.ID, f.remove(c)); err != nil {
		t.Fatal(err)
	}

	// Current first pages: newest first with a next page; priority ascending (low before high).
	f.cachePage(ticketcache.ListQuery{SortBy: "created_at", Order: "desc", Limit: 1}, ptr("opaque"), b)
	f.cachePage(ticketcache.ListQuery{Status: "open", SortBy: "priority", Order: "asc", Limit: 10}, nil, b, a)
	// A page cached before alice's lists moved on: never served again, whatever it holds.
	f.cachePage(ticketcache.ListQuery{Assignee: "alice", SortBy: "title", Order: "asc", Limit: 5}, nil)
	f.bumpGen("", "alice")
	// A page behind a cursor: not audited.
	f.cachePage(ticketcache.ListQuery{SortBy: "created_at", Order: "desc", Limit: 1, Cursor: "abc"}, nil, a)

	code, out, errOut := f.check()
	if code != exitOK {
		t.Fatalf("exit code %d, want %d; stdout=%s stderr=%s", code, exitOK, out, errOut)
	}
	if want := "checked 6: 4 fresh, 0 stale, 1 superseded, 1 skipped (cursor pages not audited: 1)\n"; out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}

	code, out, errOut = f.check("--json")
	if code != exitOK {
		t.Fatalf("--json: exit code %d, want %d; stderr=%s", code, exitOK, errOut)
	}
	var r cacheReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("decode the report %s: %v", out, err)
	}
	want := cacheReport{Checked: 6, Fresh: 4, Superseded: 1, Skipped: 1,
		SkippedReasons: map[string]int{skipCursor: 1}, StaleEntries: []finding{}}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("report = %+v, want %+v", r, want)
	}
}

func TestCacheCheckFindsStaleTickets(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	ctx := context.Background()
	moved := f.insert("Printer jammed", "open", "medium", "")
	f.cacheTicket(moved)
	f.retitle(moved, "Printer fixed") // the invalidator never saw this change
	live := f.insert("Still here", "open", "medium", "")
	if _, err := f.cache.SetTombstone(ctx, live.ID, 2); err != nil {
		t.Fatal(err)
	}
	gone := f.insert("Deleted", "open", "medium", "")
	f.cacheTicket(gone)
	f.remove(gone)
	fresh := f.insert("Fine", "open", "medium", "")
	f.cacheTicket(fresh)
	if err := f.rdb.Set(ctx, f.cache.Keys().Ticket(newID()), "garbage", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := f.check()
	if code != exitStale {
		t.Errorf("exit code %d, want %d; stdout=%s stderr=%s", code, exitStale, out, errOut)
	}
	if want := "ticketctl: 4 stale cache entries"; !strings.Contains(errOut, want) {
		t.Errorf("stderr %q lacks %q", errOut, want)
	}
	k := f.cache.Keys().Ticket
	for _, want := range []string{
		"stale  ticket  " + k(moved.ID) + "  cached v1, row is at v2 (differs in title, updated_at)\n",
		"stale  ticket  " + k(live.ID) + "  tombstone v2 but the ticket is live at v1\n",
		"stale  ticket  " + k(gone.ID) + "  serves v1 but the ticket was deleted at v2\n",
		"not a ticket or tombstone",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, k(fresh.ID)) {
		t.Errorf("stdout names the fresh entry %s:\n%s", k(fresh.ID), out)
	}
	if want := "checked 5: 1 fresh, 4 stale, 0 superseded, 0 skipped\n"; !strings.Contains(out, want) {
		t.Errorf("stdout lacks %q:\n%s", want, out)
	}
}

func TestCacheCheckFindsStaleListPages(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	a := f.insert("Printer jammed", "open", "medium", "alice")
	first := ticketcache.ListQuery{Status: "open", SortBy: "created_at", Order: "desc", Limit: 50}
	stale := f.cachePage(first, nil, a)
	f.insert("New one", "open", "medium", "alice") // no generation bump: the page is stale

	// A page whose generation is ahead of its counter would come back after later changes.
	ahead := ticketcache.ListQuery{SortBy: "title", Order: "asc", Limit: 3}
	aheadKey := f.cache.Keys().List(ahead, 7)
	if err := f.cache.SetList(context.Background(), aheadKey, []byte(`{"items":[],"next_cursor":null}`)); err != nil {
		t.Fatal(err)
	}
	// A key under tickets:all: that the scheme never builds.
	if err := f.cache.SetList(context.Background(), f.cache.Keys().ListPrefix()+"whatever", []byte("x")); err != nil {
		t.Fatal(err)
	}
	// Same rows, wrong order: sorted by title ascending, "New one" comes before "Printer jammed".
	wrongOrder := f.cachePage(ticketcache.ListQuery{Assignee: "alice", SortBy: "title", Order: "asc", Limit: 1}, ptr("c"), a)

	code, out, errOut := f.check("--json")
	if code != exitStale {
		t.Errorf("exit code %d, want %d; stderr=%s", code, exitStale, errOut)
	}
	var r cacheReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("decode the report %s: %v", out, err)
	}
	if r.Stale != 3 {
		t.Errorf("stale = %d, want 3", r.Stale)
	}
	if want := map[string]int{skipUnrecognised: 1}; !reflect.DeepEqual(r.SkippedReasons, want) {
		t.Errorf("skipped reasons = %v, want %v", r.SkippedReasons, want)
	}
	why := map[string]string{}
	for _, e := range r.StaleEntries {
		if e.Kind != kindList {
			t.Errorf("stale entry %s has kind %q, want %q", e.Key, e.Kind, kindList)
		}
		why[e.Key] = e.Reason
	}
	if got, want := why[stale], "1 items cached, the query returns 2"; got != want {
		t.Errorf("reason for %s = %q, want %q", stale, got, want)
	}
	if got, want := why[aheadKey], "generation g7 is ahead of the counter (g0): later changes would bring it back"; got != want {
		t.Errorf("reason for %s = %q, want %q", aheadKey, got, want)
	}
	if got, want := why[wrongOrder], "item 0 is "+a.ID+", the query has "; !strings.Contains(got, want) {
		t.Errorf("reason for %s = %q, want it to contain %q", wrongOrder, got, want)
	}
}

func TestCacheCheckRechecksAfterGrace(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	tk := f.insert("Printer jammed", "open", "medium", "")
	f.cacheTicket(tk)
	tk = f.retitle(tk, "Printer fixed")
	late := f.insert("Late", "open", "medium", "")
	f.cacheTicket(late)
	late = f.retitle(late, "Later")

	var out, errOut bytes.Buffer
	a := newApp(env(f.env()), &out, &errOut)
	paused := 0
	a.pause = func(_ context.Context, d time.Duration) error {
		// The invalidator catches up with one of the two while the check waits.
		paused++
		if d != 5*time.Second {
			t.Errorf("paused for %v, want 5s", d)
		}
		f.cacheTicket(tk)
		return nil
	}
	code := a.execute(context.Background(), []string{"cache", "check", "--prefix", f.prefix, "--grace", "5s"})
	if code != exitStale {
		t.Errorf("exit code %d, want %d; stdout=%s stderr=%s", code, exitStale, &out, &errOut)
	}
	if paused != 1 {
		t.Errorf("paused %d times, want 1", paused)
	}
	if want := "2 entries look stale; checking again in 5s"; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr %q lacks %q", errOut.String(), want)
	}
	if want := f.cache.Keys().Ticket(late.ID); !strings.Contains(out.String(), want) {
		t.Errorf("stdout lacks the still stale %s:\n%s", want, out.String())
	}
	if caught := f.cache.Keys().Ticket(tk.ID); strings.Contains(out.String(), caught) {
		t.Errorf("stdout names %s, which was fresh on the second look:\n%s", caught, out.String())
	}
	if want := "checked 2: 1 fresh, 1 stale, 0 superseded, 0 skipped\n"; !strings.HasSuffix(out.String(), want) {
		t.Errorf("stdout does not end with %q:\n%s", want, out.String())
	}
}

func TestCacheCheckFailsClearly(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	with := func(k, v string) map[string]string {
		e := f.env()
		e[k] = v
		return e
	}
	tests := []struct {
		name string
		vars map[string]string
		code int
		msg  string
	}{
		{"redis down", with("REDIS_URL", "redis://127.0.0.1:1/0"), exitRuntime, "ticketctl: cannot reach Redis at redis://127.0.0.1:1/0: "},
		{"postgres down", with("DATABASE_URL", "postgres://postgres:secret@127.0.0.1:1/x?sslmode=disable"), exitRuntime, "cannot reach PostgreSQL at postgres://postgres:xxxxx@127.0.0.1:1/x"},
		{"bad REDIS_CLUSTER", with("REDIS_CLUSTER", "maybe"), exitUsage, "REDIS_CLUSTER: not a valid boolean"},
		{"bad REDIS_URL", with("REDIS_URL", "http://x"), exitUsage, "REDIS_URL: not a valid redis:// or rediss:// URL"},
		{"bad DATABASE_URL", with("DATABASE_URL", "::"), exitUsage, "DATABASE_URL: not a valid PostgreSQL URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, tt.vars, "cache", "check", "--timeout", "3s")
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stdout=%q stderr=%q", code, tt.code, out, errOut)
			}
			if !strings.Contains(errOut, tt.msg) {
				t.Errorf("stderr %q lacks %q", errOut, tt.msg)
			}
			if strings.Contains(errOut, "secret") {
				t.Errorf("stderr %q shows the password", errOut)
			}
			if out != "" {
				t.Errorf("stdout = %q, want empty", out)
			}
		})
	}
}
