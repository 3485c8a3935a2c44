package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketsys/ticketsys/client"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// The typed Go client against the real services: create (with its own
// Idempotency-Key), read, conditional change and delete, and a list walked
// page by page with the iterator.
func TestGoClient(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	c, err := client.New(s.command.url, client.WithReadURL(s.query.url), client.WithToken(s.token),
		client.WithHTTPClient(&http.Client{Transport: s.describedTransport()}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	assignee := "client-" + uuid.NewString()[:8]

	created, err := c.Create(ctx, client.TicketCreate{Title: "Printer jammed", Assignee: &assignee})
	if err != nil {
		t.Fatal(err)
	}
	if created.Version != 1 || created.Title != "Printer jammed" || created.Assignee != assignee {
		t.Fatalf("created %+v", created)
	}
	// The same key and body: the first ticket again, nothing new.
	again, err := c.Create(ctx, client.TicketCreate{Title: "Printer jammed", Assignee: &assignee},
		client.WithIdempotencyKey("k-"+created.Id.String()))
	if err != nil {
		t.Fatal(err)
	}
	replay, err := c.Create(ctx, client.TicketCreate{Title: "Printer jammed", Assignee: &assignee},
		client.WithIdempotencyKey("k-"+created.Id.String()))
	if err != nil || replay.Id != again.Id {
		t.Fatalf("replayed create %v, %v; want %s", replay.Id, err, again.Id)
	}

	got, err := c.Get(ctx, created.Id.String())
	if err != nil || got.Version != 1 {
		t.Fatalf("get: %+v, %v", got, err)
	}
	closed := client.StatusClosed
	changed, err := c.Update(ctx, got.Id.String(), client.TicketUpdate{Status: &closed}, client.IfVersion(got.Version))
	if err != nil || changed.Version != 2 || changed.Status != closed {
		t.Fatalf("update: %+v, %v", changed, err)
	}
	// The same condition again: the ticket moved on.
	_, err = c.Update(ctx, got.Id.String(), client.TicketUpdate{Status: &closed}, client.IfVersion(got.Version))
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusPreconditionFailed || e.RequestID == "" {
		t.Fatalf("stale update: %v, want a 412 *client.Error with its request id", err)
	}

	// Five more of the assignee's, listed two per page: all seven, once each.
	want := map[string]bool{created.Id.String(): true, again.Id.String(): true}
	for range 5 {
		tk, err := c.Create(ctx, client.TicketCreate{Title: "listed", Assignee: &assignee})
		if err != nil {
			t.Fatal(err)
		}
		want[tk.Id.String()] = true
	}
	seen := map[string]bool{}
	for tk, err := range c.List(ctx, client.ListQuery{Assignee: assignee, PageSize: 2, SortBy: "created_at", Order: "asc"}) {
		if err != nil {
			t.Fatal(err)
		}
		if seen[tk.Id.String()] || !want[tk.Id.String()] {
			t.Fatalf("listed %s twice or unexpectedly", tk.Id)
		}
		seen[tk.Id.String()] = true
	}
	if len(seen) != len(want) {
		t.Fatalf("listed %d tickets, want %d", len(seen), len(want))
	}

	if err := c.Delete(ctx, changed.Id.String(), client.IfVersion(1)); client.StatusCode(err) != http.StatusPreconditionFailed {
		t.Fatalf("delete at a stale version: %v, want 412", err)
	}
	if err := c.Delete(ctx, changed.Id.String(), client.IfVersion(changed.Version)); err != nil {
		t.Fatal(err)
	}
	// Reads follow writes once the invalidator applied the delete.
	testinfra.Eventually(t, 10*time.Second, func() bool {
		_, err := c.Get(ctx, changed.Id.String())
		return client.StatusCode(err) == http.StatusNotFound
	}, "the deleted ticket is still read")
}

// ticketctl tickets, through the same client, against the real services.
func TestTicketctlTickets(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	env := []string{"TICKETSYS_URL=" + s.command.url, "TICKETSYS_READ_URL=" + s.query.url, "TICKETSYS_TOKEN=" + s.token}
	ctl := func(wantExit int, args ...string) string {
		t.Helper()
		cmd := exec.Command(binaries["ticketctl"], args...)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != wantExit {
			t.Fatalf("ticketctl %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantExit,
				stdout.String(), stderr.String())
		}
		return stdout.String() + stderr.String()
	}
	ticketOf := func(out string) client.Ticket {
		t.Helper()
		var tk client.Ticket
		if err := json.Unmarshal([]byte(out), &tk); err != nil {
			t.Fatalf("not a ticket: %v\n%s", err, out)
		}
		return tk
	}
	assignee := "ctl-" + uuid.NewString()[:8]

	tk := ticketOf(ctl(0, "tickets", "create", "--title", "From the CLI", "--assignee", assignee, "--tag", "a,b", "--priority", "high"))
	if tk.Version != 1 || tk.Priority != client.PriorityHigh || strings.Join(tk.Tags, ",") != "a,b" {
		t.Fatalf("created %+v", tk)
	}
	id := tk.Id.String()
	if got := ticketOf(ctl(0, "tickets", "get", id)); got.Id != tk.Id || got.Title != "From the CLI" {
		t.Fatalf("get %+v", got)
	}
	if got := ticketOf(ctl(0, "tickets", "update", id, "--status", "resolved", "--if-version", "1")); got.Version != 2 {
		t.Fatalf("update %+v", got)
	}
	if out := ctl(1, "tickets", "update", id, "--status", "closed", "--if-version", "1"); !strings.Contains(out, "412") {
		t.Fatalf("stale update said %q, want the 412", out)
	}
	ctl(2, "tickets", "update", id) // nothing to change: usage
	ctl(2, "tickets", "create")     // no title: usage

	list := ctl(0, "tickets", "list", "--assignee", assignee)
	if !strings.Contains(list, id) || !strings.Contains(list, "resolved") || !strings.HasPrefix(list, "ID") {
		t.Fatalf("list:\n%s", list)
	}
	if out := ctl(0, "tickets", "list", "--assignee", assignee, "--json"); ticketOf(out).Id != tk.Id {
		t.Fatalf("list --json: %s", out)
	}
	if out := ctl(0, "tickets", "delete", id, "--if-version", "2"); !strings.Contains(out, "deleted "+id) {
		t.Fatalf("delete: %s", out)
	}
	testinfra.Eventually(t, 10*time.Second, func() bool {
		cmd := exec.Command(binaries["ticketctl"], "tickets", "get", id)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		return errors.As(err, &ee) && ee.ExitCode() == 1 && strings.Contains(string(out), "404")
	}, "ticketctl tickets get still reads the deleted ticket, or does not exit 1 with the 404")
}
