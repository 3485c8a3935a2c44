// Package cursor makes the opaque next_cursor of a list page and checks the
// ones clients send back. A cursor is base64url(JSON record ‖ HMAC-SHA256/128)
// and carries where the page ended (the last row's sort value and id) plus
// what it belongs to (sort, order, a hash of the filters), so a cursor that
// was tampered with, forged, or taken to another sort or filter is refused.
package cursor

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/ticketsys/ticketsys/pkg/ticket"
)

// MaxLen bounds what Decode reads: a 200-character title escaped in JSON
// and base64-encoded stays well below it.
const MaxLen = 4096

const macLen = 16

var (
	// ErrInvalid is a cursor that is not one of ours or was altered.
	ErrInvalid = errors.New("cursor is malformed or was altered")
	// ErrOtherQuery is a genuine cursor of another sort, order or filter.
	ErrOtherQuery = errors.New("cursor belongs to a list with another sort_by, order or filter")
)

// Scope is what a cursor is bound to: the list it came from.
type Scope struct {
	SortBy, Order, Status, Assignee string
}

// Key is where a page ended. Value is a time.Time for created_at and
// updated_at, the priority rank (int) for priority, the title (string) for
// title.
type Key struct {
	Value any
	ID    string
}

// Of is the key of t under sortBy.
func Of(sortBy string, t ticket.Ticket) Key {
	switch sortBy {
	case ticket.SortUpdatedAt:
		return Key{Value: t.UpdatedAt, ID: t.ID}
	case ticket.SortPriority:
		return Key{Value: ticket.PriorityRank(t.Priority), ID: t.ID}
	case ticket.SortTitle:
		return Key{Value: t.Title, ID: t.ID}
	default:
		return Key{Value: t.CreatedAt, ID: t.ID}
	}
}

// record is the signed content. Short names keep cursors short.
type record struct {
	Sort   string `json:"s"`
	Order  string `json:"o"`
	Filter string `json:"f"`
	Value  string `json:"k"`
	ID     string `json:"i"`
}

// Codec signs cursors with one key and verifies them with any of a list;
// all instances share the list, so a key is rotated without a 400.
type Codec struct {
	keys [][]byte
}

// NewCodec returns a codec that signs with the first key and accepts each.
func NewCodec(key []byte, older ...[]byte) Codec {
	keys := [][]byte{append([]byte(nil), key...)}
	for _, k := range older {
		keys = append(keys, append([]byte(nil), k...))
	}
	return Codec{keys: keys}
}

// Encode returns the cursor that continues the list of scope after k.
func (c Codec) Encode(s Scope, k Key) string {
	rec := record{Sort: s.SortBy, Order: s.Order, Filter: filterHash(s), Value: valueString(k.Value), ID: k.ID}
	payload, _ := json.Marshal(rec) // strings only: cannot fail
	return base64.RawURLEncoding.EncodeToString(append(payload, mac(c.keys[0], payload)...))
}

// Decode checks raw and returns its key. The error is ErrInvalid or
// ErrOtherQuery.
func (c Codec) Decode(s Scope, raw string) (Key, error) {
	if len(raw) > MaxLen {
		return Key{}, ErrInvalid
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) <= macLen {
		return Key{}, ErrInvalid
	}
	payload, sum := b[:len(b)-macLen], b[len(b)-macLen:]
	if !c.verify(payload, sum) {
		return Key{}, ErrInvalid
	}
	var rec record
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return Key{}, ErrInvalid
	}
	if rec.Sort != s.SortBy || rec.Order != s.Order || rec.Filter != filterHash(s) {
		return Key{}, ErrOtherQuery
	}
	id, err := uuid.Parse(rec.ID)
	if err != nil {
		return Key{}, ErrInvalid
	}
	v, err := parseValue(rec.Sort, rec.Value)
	if err != nil {
		return Key{}, ErrInvalid
	}
	return Key{Value: v, ID: id.String()}, nil
}

func (c Codec) verify(payload, sum []byte) bool {
	for _, k := range c.keys {
		if hmac.Equal(sum, mac(k, payload)) {
			return true
		}
	}
	return false
}

func mac(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	return m.Sum(nil)[:macLen]
}

// filterHash binds a cursor to its filters without spelling them out.
func filterHash(s Scope) string {
	h := sha256.Sum256([]byte(s.Status + "\x00" + s.Assignee))
	return hex.EncodeToString(h[:8])
}

func valueString(v any) string {
	switch v := v.(type) {
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case int:
		return strconv.Itoa(v)
	case string:
		return v
	}
	return ""
}

func parseValue(sortBy, s string) (any, error) {
	switch sortBy {
	case ticket.SortCreatedAt, ticket.SortUpdatedAt:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, ErrInvalid
		}
		// Keys are written in UTC; an offset that moves the instant out of
		// years 1-9999 could not be written back, so it is no key of ours.
		t = t.UTC()
		if y := t.Year(); y < 1 || y > 9999 {
			return nil, ErrInvalid
		}
		return t, nil
	case ticket.SortPriority:
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 4 {
			return nil, ErrInvalid
		}
		return n, nil
	case ticket.SortTitle:
		return s, nil
	}
	return nil, ErrInvalid
}
