package ticketapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/pkg/problem"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/services/query/internal/app"
	"github.com/ticketsys/ticketsys/services/query/internal/cursor"
)

var fuzzCodec = cursor.NewCodec([]byte("a-fuzz-cursor-key-of-at-least-32-bytes"))

const fuzzID = "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11"

// FuzzParseList feeds arbitrary query strings to GET /tickets' parsing. A
// refusal is a 400 problem with a bounded errors list, before any store is
// asked; an accepted query is canonical: every value within its bounds, the
// cursor re-encoded from what it says, and the query written back as a
// query string parses to itself.
func FuzzParseList(f *testing.F) {
	gin.SetMode(gin.TestMode)
	at := time.Date(2026, 11, 26, 10, 0, 0, 123456000, time.UTC)
	def := app.ListQuery{SortBy: ticket.SortCreatedAt, Order: "desc"}
	byTitle := app.ListQuery{SortBy: ticket.SortTitle, Order: "asc", Status: "open", Assignee: "alice"}
	first := fuzzCodec.Encode(def.Scope(), cursor.Key{Value: at, ID: fuzzID})
	titled := fuzzCodec.Encode(byTitle.Scope(), cursor.Key{Value: "a \"quoted\" title", ID: fuzzID})
	for _, s := range []string{
		"",
		"status=open&assignee=alice&sort_by=priority&order=asc&limit=200",
		"status=&assignee=",
		"limit=0", "limit=201", "limit=+5", "limit=0x10", "limit=99999999999999999999999", "limit=",
		"assignee=%00", "assignee=%FF%FE", "assignee=" + strings.Repeat("%C3%A9", 101),
		"status=OPEN", "status=open&status=closed", "STATUS=open", "sort_by=id", "order=DESC",
		"a;b=c", "%zz=1", "cursor=%", "x=1&y=2&z=3",
		"cursor=" + first,
		"cursor=" + first[:10] + "%0D%0A" + first[10:],
		"cursor=" + first + "&order=asc",
		"cursor=" + titled + "&sort_by=title&order=asc&status=open&assignee=alice",
		"cursor=" + strings.Repeat("A", cursor.MaxLen+1),
	} {
		f.Add(s)
	}
	h := &Handlers{codec: fuzzCodec}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			expectBadRequest(t, h.list, raw, "")
			return
		}
		q, errs := h.parseList(v)
		if len(errs) > 0 {
			// The handler refuses before it asks the store (h.queries is nil).
			expectBadRequest(t, h.list, raw, "")
			return
		}
		checkCanonical(t, h, q)
		again, errs := h.parseList(listValues(q))
		if len(errs) > 0 {
			t.Fatalf("%q parsed as %+v, which written back is refused: %+v", raw, q, errs)
		}
		if !sameList(q, again) {
			t.Fatalf("%q parsed as %+v, written back as %+v", raw, q, again)
		}
	})
}

func checkCanonical(t *testing.T, h *Handlers, q app.ListQuery) {
	t.Helper()
	if q.Status != "" && !ticket.ValidStatus(q.Status) {
		t.Fatalf("status %q", q.Status)
	}
	if !utf8.ValidString(q.Assignee) || strings.ContainsRune(q.Assignee, 0) ||
		utf8.RuneCountInString(q.Assignee) > ticket.MaxPersonLen {
		t.Fatalf("assignee %q", q.Assignee)
	}
	if !ticket.ValidSort(q.SortBy) || (q.Order != "asc" && q.Order != "desc") || q.Limit < 1 || q.Limit > MaxLimit {
		t.Fatalf("query %+v", q)
	}
	if (q.Cursor == "") != (q.After == nil) {
		t.Fatalf("cursor %q, after %v", q.Cursor, q.After)
	}
	if q.After == nil {
		return
	}
	if want := h.codec.Encode(q.Scope(), *q.After); q.Cursor != want {
		t.Fatalf("cursor %q is not the canonical %q", q.Cursor, want)
	}
	if k, err := h.codec.Decode(q.Scope(), q.Cursor); err != nil || !sameKey(k, *q.After) {
		t.Fatalf("cursor %q decodes to %v %v, want %v", q.Cursor, k, err, *q.After)
	}
}

// listValues writes q back as the query parameters that ask for it.
func listValues(q app.ListQuery) url.Values {
	v := url.Values{"sort_by": {q.SortBy}, "order": {q.Order}, "limit": {strconv.Itoa(q.Limit)}}
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	if q.Assignee != "" {
		v.Set("assignee", q.Assignee)
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	// Through the wire form, as a client would send it.
	back, err := url.ParseQuery(v.Encode())
	if err != nil {
		panic(err)
	}
	return back
}

func sameList(a, b app.ListQuery) bool {
	if (a.After == nil) != (b.After == nil) || (a.After != nil && !sameKey(*a.After, *b.After)) {
		return false
	}
	a.After, b.After = nil, nil
	return a == b
}

func sameKey(a, b cursor.Key) bool {
	if ta, ok := a.Value.(time.Time); ok {
		tb, ok := b.Value.(time.Time)
		return ok && ta.Equal(tb) && a.ID == b.ID
	}
	return a.Value == b.Value && a.ID == b.ID
}

// canonicalID is the only form ParseID returns.
var canonicalID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// FuzzParseID feeds arbitrary path ids to ticket.ParseID and GET
// /tickets/:id: an accepted id is the canonical lower-case form of the same
// UUID (so one ticket has one cache key), and a refused one is a 400.
func FuzzParseID(f *testing.F) {
	gin.SetMode(gin.TestMode)
	for _, s := range []string{
		fuzzID, strings.ToUpper(fuzzID), "01936f4e8a1c7c3e9a573f1d2b9c0e11", "{01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11}",
		"urn:uuid:01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11", "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e1g",
		"01936f4e-8a1c-7c3e-9a57\x003f1d2b9c0e1", "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0é", "", "00000000-0000-0000-0000-000000000000",
		"01936f4e+8a1c+7c3e+9a57+3f1d2b9c0e11", "ticket:{01936f4e-8a1c-7c3e-9a57}",
	} {
		f.Add(s)
	}
	h := &Handlers{codec: fuzzCodec}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := ticket.ParseID(s)
		if !ok {
			if id != "" {
				t.Fatalf("%q refused, yet returned %q", s, id)
			}
			expectBadRequest(t, h.get, "", s)
			return
		}
		if !canonicalID.MatchString(id) || !strings.EqualFold(id, s) {
			t.Fatalf("%q accepted as %q", s, id)
		}
		if again, ok := ticket.ParseID(id); !ok || again != id {
			t.Fatalf("%q accepted as %q, which parses as %q %v", s, id, again, ok)
		}
	})
}

// expectBadRequest runs handler and requires a 400 problem with at most
// MaxFieldErrors errors (and the "(more)" line).
func expectBadRequest(t *testing.T, handler gin.HandlerFunc, rawQuery, id string) {
	t.Helper()
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	c.Request = httptest.NewRequest(http.MethodGet, "/tickets", http.NoBody)
	c.Request.URL.RawQuery = rawQuery
	c.Params = gin.Params{{Key: "id", Value: id}}
	handler(c)
	if rec.Code != http.StatusBadRequest || rec.Header().Get("Content-Type") != problem.ContentType {
		t.Fatalf("answered %d %s: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	var pr problem.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &pr); err != nil || pr.Status != http.StatusBadRequest {
		t.Fatalf("problem %s: %v", rec.Body, err)
	}
	if len(pr.Errors) > problem.MaxFieldErrors+1 {
		t.Fatalf("%d field errors", len(pr.Errors))
	}
}
