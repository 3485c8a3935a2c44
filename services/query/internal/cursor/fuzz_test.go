package cursor_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/services/query/internal/cursor"
)

var (
	fuzzKey   = []byte("a-fuzz-cursor-key-of-at-least-32-bytes")
	fuzzCodec = cursor.NewCodec(fuzzKey)
	// otherCodec has another key: nothing fuzzCodec accepts may pass it.
	otherCodec  = cursor.NewCodec([]byte("another-cursor-key-of-at-least-32-bytes"))
	canonicalID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// fuzzScopes are the lists a fuzzed cursor is decoded against.
var fuzzScopes = []cursor.Scope{
	{SortBy: ticket.SortCreatedAt, Order: "desc"},
	{SortBy: ticket.SortUpdatedAt, Order: "asc", Status: "open"},
	{SortBy: ticket.SortPriority, Order: "desc", Assignee: "alice"},
	{SortBy: ticket.SortTitle, Order: "asc", Status: "closed", Assignee: "None"},
}

func fuzzScope(i uint8) cursor.Scope { return fuzzScopes[int(i)%len(fuzzScopes)] }

// sign makes a cursor of payload as the codec would: base64url(payload ‖
// HMAC-SHA256/128 under fuzzKey).
func sign(payload []byte) string {
	m := hmac.New(sha256.New, fuzzKey)
	m.Write(payload)
	return base64.RawURLEncoding.EncodeToString(append(append([]byte(nil), payload...), m.Sum(nil)[:16]...))
}

// filter is the record's "f" for s, as the package computes it.
func filter(s cursor.Scope) string {
	h := sha256.Sum256([]byte(s.Status + "\x00" + s.Assignee))
	return hex.EncodeToString(h[:8])
}

// FuzzDecode feeds arbitrary strings to Decode. It never panics and fails
// only with ErrInvalid or ErrOtherQuery; what it accepts carries a valid MAC
// under the codec's key (another key refuses it), and re-encodes to a
// cursor that decodes to the same key.
func FuzzDecode(f *testing.F) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 123456000, time.UTC)
	for i, s := range fuzzScopes {
		k := cursor.Of(s.SortBy, ticket.Ticket{ID: id, Title: "a \"quoted\" title", Priority: ticket.PriorityHigh,
			CreatedAt: at, UpdatedAt: at})
		raw := fuzzCodec.Encode(s, k)
		f.Add(raw, uint8(i))
		f.Add(raw, uint8(i+1))
		f.Add(raw[:20]+"\r\n"+raw[20:], uint8(i))
		f.Add(raw+"=", uint8(i))
		f.Add(strings.ToUpper(raw), uint8(i))
		f.Add(otherCodec.Encode(s, k), uint8(i))
	}
	for _, raw := range []string{"", "first", "\x00", "\xff\xfe", "e30", "====", "eyJzIjoiY3JlYXRlZF9hdCJ9",
		strings.Repeat("A", cursor.MaxLen), strings.Repeat("A", cursor.MaxLen+1)} {
		f.Add(raw, uint8(0))
	}
	f.Fuzz(func(t *testing.T, raw string, si uint8) {
		s := fuzzScope(si)
		k, err := fuzzCodec.Decode(s, raw)
		if err != nil {
			if !errors.Is(err, cursor.ErrInvalid) && !errors.Is(err, cursor.ErrOtherQuery) {
				t.Fatalf("%q: error %v", raw, err)
			}
			return
		}
		// Accepted: it must carry our MAC. base64 skips line breaks, as Decode does.
		b, derr := base64.RawURLEncoding.DecodeString(raw)
		if derr != nil || len(b) <= 16 || sign(b[:len(b)-16]) != base64.RawURLEncoding.EncodeToString(b) {
			t.Fatalf("%q accepted without a MAC of our key", raw)
		}
		if _, err := otherCodec.Decode(s, raw); !errors.Is(err, cursor.ErrInvalid) {
			t.Fatalf("%q accepted under another key: %v", raw, err)
		}
		checkKey(t, s, k)
	})
}

// FuzzDecodeSigned signs arbitrary payloads with the codec's key, so the
// fuzzer reaches what lies behind the MAC: the record's decoding and the
// value's parsing. Whatever is accepted is a well-formed key that
// re-encodes to a cursor decoding to the same key.
func FuzzDecodeSigned(f *testing.F) {
	for i, s := range fuzzScopes {
		fl := filter(s)
		for _, v := range []string{"2026-11-26T10:00:00.123456Z", "3", "a title"} {
			f.Add([]byte(`{"s":"`+s.SortBy+`","o":"`+s.Order+`","f":"`+fl+`","k":"`+v+`","i":"`+id+`"}`), uint8(i))
		}
	}
	fl := filter(fuzzScopes[0])
	rec := func(k, i string) []byte {
		return []byte(`{"s":"created_at","o":"desc","f":"` + fl + `","k":"` + k + `","i":"` + i + `"}`)
	}
	for _, p := range [][]byte{
		rec("9999-12-31T23:59:59-23:59", id),
		rec("0000-01-01T00:00:00+23:59", id),
		rec("2026-11-26T10:00:00.123456789+01:00", strings.ToUpper(id)),
		rec("2026-11-26T10:00:00Z", "{"+id+"}"),
		rec("2026-11-26T10:00:00Z", "urn:uuid:"+id),
		rec("2026-11-26T10:00:00Z", "01936f4e8a1c7c3e9a573f1d2b9c0e11"),
		rec("2026-11-26T10:00:00Z\u0000", id),
		[]byte(`{"S":"created_at","O":"desc","F":"` + fl + `","K":"2026-11-26T10:00:00Z","I":"` + id + `"}`),
		[]byte(`{"s":"title","s":"created_at","o":"desc","f":"` + fl + `","k":"2026-11-26T10:00:00Z","i":"` + id + `"}`),
		[]byte(`{"s":"created_at","o":"desc","f":"` + fl + `","k":"2026-11-26T10:00:00Z","i":"` + id + `","x":1}`),
		[]byte(`{"s":"created_at","o":"desc","f":"` + fl + `","k":"2026-11-26T10:00:00Z","i":"` + id + `"} {}`),
		[]byte(`{"s":"priority","o":"desc","f":"` + filter(fuzzScopes[2]) + `","k":"+4","i":"` + id + `"}`),
		[]byte(`{"s":"priority","o":"desc","f":"` + filter(fuzzScopes[2]) + `","k":"99999999999999999999","i":"` + id + `"}`),
		[]byte(`{"s":"title","o":"asc","f":"` + filter(fuzzScopes[3]) + `","k":"\ud800\u0000` + "\xff" + `","i":"` + id + `"}`),
		[]byte(`null`), []byte(`[]`), []byte(`{}`), {},
	} {
		f.Add(p, uint8(0))
	}
	f.Fuzz(func(t *testing.T, payload []byte, si uint8) {
		s := fuzzScope(si)
		raw := sign(payload)
		k, err := fuzzCodec.Decode(s, raw)
		if err != nil {
			if !errors.Is(err, cursor.ErrInvalid) && !errors.Is(err, cursor.ErrOtherQuery) {
				t.Fatalf("%q: error %v", payload, err)
			}
			return
		}
		checkKey(t, s, k)
	})
}

// checkKey holds for every key Decode returns under s: a canonical id, the
// value of s's sort, and a round trip through Encode.
func checkKey(t *testing.T, s cursor.Scope, k cursor.Key) {
	t.Helper()
	if !canonicalID.MatchString(k.ID) {
		t.Fatalf("id %q is not canonical", k.ID)
	}
	switch v := k.Value.(type) {
	case time.Time:
		if s.SortBy != ticket.SortCreatedAt && s.SortBy != ticket.SortUpdatedAt {
			t.Fatalf("time %v for sort %s", v, s.SortBy)
		}
	case int:
		if s.SortBy != ticket.SortPriority || v < 1 || v > 4 {
			t.Fatalf("int %d for sort %s", v, s.SortBy)
		}
	case string:
		if s.SortBy != ticket.SortTitle {
			t.Fatalf("string %q for sort %s", v, s.SortBy)
		}
	default:
		t.Fatalf("value %#v for sort %s", v, s.SortBy)
	}
	again := fuzzCodec.Encode(s, k)
	back, err := fuzzCodec.Decode(s, again)
	if err != nil {
		t.Fatalf("key %#v re-encoded as %q, which does not decode: %v", k, again, err)
	}
	if !sameKey(k, back) {
		t.Fatalf("key %#v re-encoded decodes as %#v", k, back)
	}
	if fuzzCodec.Encode(s, back) != again {
		t.Fatalf("key %#v has two encodings", k)
	}
}

func sameKey(a, b cursor.Key) bool {
	if ta, ok := a.Value.(time.Time); ok {
		tb, ok := b.Value.(time.Time)
		return ok && ta.Equal(tb) && a.ID == b.ID
	}
	return a.Value == b.Value && a.ID == b.ID
}
