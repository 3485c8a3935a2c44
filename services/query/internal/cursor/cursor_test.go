package cursor_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/services/query/internal/cursor"
)

const id = "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11"

var codec = cursor.NewCodec([]byte("a-cursor-key-of-at-least-32-bytes!!"))

func TestRoundTripEverySortKey(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 10, 0, 0, 123456000, time.FixedZone("X", 3600))
	tk := ticket.Ticket{ID: id, Title: `a "quoted" title: ünïcode`, Priority: ticket.PriorityHigh, CreatedAt: at, UpdatedAt: at.Add(time.Hour)}
	cases := []struct {
		sortBy string
		want   any
	}{
		{ticket.SortCreatedAt, at},
		{ticket.SortUpdatedAt, at.Add(time.Hour)},
		{ticket.SortPriority, 3},
		{ticket.SortTitle, tk.Title},
	}
	for _, tc := range cases {
		s := cursor.Scope{SortBy: tc.sortBy, Order: "asc", Status: "open", Assignee: "alice"}
		raw := codec.Encode(s, cursor.Of(tc.sortBy, tk))
		if strings.ContainsAny(raw, "+/=?&%") {
			t.Errorf("%s: cursor %q needs escaping in a URL", tc.sortBy, raw)
		}
		k, err := codec.Decode(s, raw)
		if err != nil {
			t.Fatalf("%s: %v", tc.sortBy, err)
		}
		if k.ID != id {
			t.Errorf("%s: id %s", tc.sortBy, k.ID)
		}
		switch want := tc.want.(type) {
		case time.Time:
			if got, ok := k.Value.(time.Time); !ok || !got.Equal(want) {
				t.Errorf("%s: value %v, want %v", tc.sortBy, k.Value, want)
			}
		default:
			if k.Value != want {
				t.Errorf("%s: value %#v, want %#v", tc.sortBy, k.Value, want)
			}
		}
	}
}

func TestOtherQueryIsRefused(t *testing.T) {
	t.Parallel()
	base := cursor.Scope{SortBy: ticket.SortCreatedAt, Order: "desc"}
	raw := codec.Encode(base, cursor.Key{Value: time.Now(), ID: id})
	for _, s := range []cursor.Scope{
		{SortBy: ticket.SortUpdatedAt, Order: "desc"},
		{SortBy: ticket.SortCreatedAt, Order: "asc"},
		{SortBy: ticket.SortCreatedAt, Order: "desc", Status: "open"},
		{SortBy: ticket.SortCreatedAt, Order: "desc", Assignee: "alice"},
	} {
		if _, err := codec.Decode(s, raw); !errors.Is(err, cursor.ErrOtherQuery) {
			t.Errorf("%+v: %v, want ErrOtherQuery", s, err)
		}
	}
	// Filters are bound exactly: moving text between them is another query.
	a := cursor.Scope{SortBy: ticket.SortTitle, Order: "asc", Status: "open", Assignee: ""}
	b := cursor.Scope{SortBy: ticket.SortTitle, Order: "asc", Status: "", Assignee: "open"}
	if _, err := codec.Decode(b, codec.Encode(a, cursor.Key{Value: "x", ID: id})); !errors.Is(err, cursor.ErrOtherQuery) {
		t.Errorf("swapped filters: %v", err)
	}
}

func TestTamperedOrForeignIsInvalid(t *testing.T) {
	t.Parallel()
	s := cursor.Scope{SortBy: ticket.SortPriority, Order: "desc"}
	raw := codec.Encode(s, cursor.Key{Value: 2, ID: id})
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		t.Fatal(err)
	}
	// Flip each bit of the record and of the MAC in turn.
	for i := range b {
		for bit := range 8 {
			c := append([]byte(nil), b...)
			c[i] ^= 1 << bit
			if _, err := codec.Decode(s, base64.RawURLEncoding.EncodeToString(c)); !errors.Is(err, cursor.ErrInvalid) {
				t.Fatalf("byte %d bit %d flipped: %v", i, bit, err)
			}
		}
	}
	forged := `{"s":"priority","o":"desc","f":"x","k":"9","i":"` + id + `"}` + strings.Repeat("\x00", 16)
	other := cursor.NewCodec([]byte("another-key-another-key-another-k"))
	for name, c := range map[string]string{
		"empty":         "",
		"not base64":    "!!!",
		"padding":       raw + "==",
		"short":         base64.RawURLEncoding.EncodeToString([]byte("short")),
		"forged":        base64.RawURLEncoding.EncodeToString([]byte(forged)),
		"other key":     other.Encode(s, cursor.Key{Value: 2, ID: id}),
		"too long":      strings.Repeat("A", cursor.MaxLen+1),
		"truncated mac": raw[:len(raw)-2],
	} {
		if _, err := codec.Decode(s, c); !errors.Is(err, cursor.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	// Signed but with a value the sort cannot hold (a bug, or a leaked key).
	for _, k := range []cursor.Key{{Value: 9, ID: id}, {Value: 2, ID: "not-a-uuid"}} {
		if _, err := codec.Decode(s, codec.Encode(s, k)); !errors.Is(err, cursor.ErrInvalid) {
			t.Errorf("%+v: %v", k, err)
		}
	}
}

// A key is rotated in without a 400: cursors of the old key still decode
// while it is listed, new ones are signed with the new key, and once the old
// key is dropped its cursors are refused.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := []byte("the-old-cursor-key-of-32-bytes-!!"), []byte("the-new-cursor-key-of-32-bytes-!!")
	s := cursor.Scope{SortBy: "created_at", Order: "desc"}
	k := cursor.Key{Value: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ID: "6f1c2d3e-0000-4000-8000-000000000001"}
	before := cursor.NewCodec(oldKey).Encode(s, k)
	rotating := cursor.NewCodec(newKey, oldKey)
	if got, err := rotating.Decode(s, before); err != nil || got.ID != k.ID {
		t.Fatalf("old cursor during rotation: %v %v", got, err)
	}
	after := rotating.Encode(s, k)
	if _, err := cursor.NewCodec(oldKey).Decode(s, after); !errors.Is(err, cursor.ErrInvalid) {
		t.Fatalf("rotation still signs with the old key: %v", err)
	}
	if _, err := cursor.NewCodec(newKey).Decode(s, after); err != nil {
		t.Fatalf("new cursor after rotation: %v", err)
	}
	if _, err := cursor.NewCodec(newKey).Decode(s, before); !errors.Is(err, cursor.ErrInvalid) {
		t.Fatalf("a dropped key still verifies: %v", err)
	}
}
