package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	_, err := f.cache.SetTombstone(ctx, c.ID, f.remove(c))
	require.NoError(t, err)

	// Current first pages: newest first with a next page; priority ascending (low before high).
	f.cachePage(ticketcache.ListQuery{SortBy: "created_at", Order: "desc", Limit: 1}, ptr("opaque"), b)
	f.cachePage(ticketcache.ListQuery{Status: "open", SortBy: "priority", Order: "asc", Limit: 10}, nil, b, a)
	// A page cached before alice's lists moved on: never served again, whatever it holds.
	f.cachePage(ticketcache.ListQuery{Assignee: "alice", SortBy: "title", Order: "asc", Limit: 5}, nil)
	f.bumpGen("", "alice")
	// A page behind a cursor: not audited.
	f.cachePage(ticketcache.ListQuery{SortBy: "created_at", Order: "desc", Limit: 1, Cursor: "abc"}, nil, a)

	code, out, errOut := f.check()
	require.Equal(t, exitOK, code, "stdout=%s stderr=%s", out, errOut)
	assert.Equal(t, "checked 6: 4 fresh, 0 stale, 1 superseded, 1 skipped (cursor pages not audited: 1)\n", out)

	code, out, errOut = f.check("--json")
	require.Equal(t, exitOK, code, errOut)
	var r cacheReport
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	assert.Equal(t, cacheReport{Checked: 6, Fresh: 4, Superseded: 1, Skipped: 1,
		SkippedReasons: map[string]int{skipCursor: 1}, StaleEntries: []finding{}}, r)
}

func TestCacheCheckFindsStaleTickets(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	ctx := context.Background()
	moved := f.insert("Printer jammed", "open", "medium", "")
	f.cacheTicket(moved)
	f.retitle(moved, "Printer fixed") // the invalidator never saw this change
	live := f.insert("Still here", "open", "medium", "")
	_, err := f.cache.SetTombstone(ctx, live.ID, 2)
	require.NoError(t, err)
	gone := f.insert("Deleted", "open", "medium", "")
	f.cacheTicket(gone)
	f.remove(gone)
	fresh := f.insert("Fine", "open", "medium", "")
	f.cacheTicket(fresh)
	require.NoError(t, f.rdb.Set(ctx, f.cache.Keys().Ticket(newID()), "garbage", time.Minute).Err())

	code, out, errOut := f.check()
	assert.Equal(t, exitStale, code, "stdout=%s stderr=%s", out, errOut)
	assert.Contains(t, errOut, "ticketctl: 4 stale cache entries")
	k := f.cache.Keys().Ticket
	assert.Contains(t, out, "stale  ticket  "+k(moved.ID)+"  cached v1, row is at v2 (differs in title, updated_at)\n")
	assert.Contains(t, out, "stale  ticket  "+k(live.ID)+"  tombstone v2 but the ticket is live at v1\n")
	assert.Contains(t, out, "stale  ticket  "+k(gone.ID)+"  serves v1 but the ticket was deleted at v2\n")
	assert.Contains(t, out, "not a ticket or tombstone")
	assert.NotContains(t, out, k(fresh.ID))
	assert.Contains(t, out, "checked 5: 1 fresh, 4 stale, 0 superseded, 0 skipped\n")
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
	require.NoError(t, f.cache.SetList(context.Background(), aheadKey, []byte(`{"items":[],"next_cursor":null}`)))
	// A key under tickets:all: that the scheme never builds.
	require.NoError(t, f.cache.SetList(context.Background(), f.cache.Keys().ListPrefix()+"whatever", []byte("x")))
	// Same rows, wrong order: sorted by title ascending, "New one" comes before "Printer jammed".
	wrongOrder := f.cachePage(ticketcache.ListQuery{Assignee: "alice", SortBy: "title", Order: "asc", Limit: 1}, ptr("c"), a)

	code, out, errOut := f.check("--json")
	assert.Equal(t, exitStale, code, errOut)
	var r cacheReport
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	assert.Equal(t, 3, r.Stale)
	assert.Equal(t, map[string]int{skipUnrecognised: 1}, r.SkippedReasons)
	why := map[string]string{}
	for _, e := range r.StaleEntries {
		assert.Equal(t, kindList, e.Kind)
		why[e.Key] = e.Reason
	}
	assert.Equal(t, "1 items cached, the query returns 2", why[stale])
	assert.Equal(t, "generation g7 is ahead of the counter (g0): later changes would bring it back", why[aheadKey])
	assert.Contains(t, why[wrongOrder], "item 0 is "+a.ID+", the query has ")
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
		assert.Equal(t, 5*time.Second, d)
		f.cacheTicket(tk)
		return nil
	}
	code := a.execute(context.Background(), []string{"cache", "check", "--prefix", f.prefix, "--grace", "5s"})
	assert.Equal(t, exitStale, code, "stdout=%s stderr=%s", &out, &errOut)
	assert.Equal(t, 1, paused)
	assert.Contains(t, errOut.String(), "2 entries look stale; checking again in 5s")
	assert.Contains(t, out.String(), f.cache.Keys().Ticket(late.ID))
	assert.NotContains(t, out.String(), f.cache.Keys().Ticket(tk.ID))
	assert.True(t, strings.HasSuffix(out.String(), "checked 2: 1 fresh, 1 stale, 0 superseded, 0 skipped\n"), out.String())
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
			assert.Equal(t, tt.code, code, "stdout=%q stderr=%q", out, errOut)
			assert.Contains(t, errOut, tt.msg)
			assert.NotContains(t, errOut, "secret")
			assert.Empty(t, out)
		})
	}
}
