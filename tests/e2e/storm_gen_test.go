package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"

	"github.com/ticketsys/ticketsys/pkg/httpx"
)

// stormMark is put into attacker-chosen strings (methods, paths, headers,
// parameters): no metric label may ever contain it.
const stormMark = "zqx"

// stormReq is one generated request, sent with net/http unless raw is set.
type stormReq struct {
	family  string
	svc     string // command, query or cache-invalidator
	method  string
	target  string // the request target as written: escaped path and raw query
	header  http.Header
	body    []byte
	chunked bool  // send the body with Transfer-Encoding: chunked
	want    []int // the statuses the contract allows; nil: anything below 500
	// bigBody: the server may answer and close before it read the whole
	// body, so a reset while sending is no failure.
	bigBody bool
	// poison is why a request aimed at the witness must be refused; every
	// request that names the witness's id on a write carries one.
	poison  string
	noRoute bool // the path matches no route: a 404 before the token is looked at
	raw     *rawSpec
}

// stormCursor is a genuine next_cursor and the list parameters it belongs to.
type stormCursor struct {
	scope  url.Values
	cursor string
}

// stormGen makes the requests from one seeded source, before any is sent,
// so a seed replays the same storm (up to the ids the services make).
type stormGen struct {
	r                *rand.Rand
	rw, read, write  string // tokens: both scopes, tickets:read only, tickets:write only
	witness          string
	witnessBody      string // the body and key that created the witness
	witnessKey       string
	decoys           []string // tickets the storm may change and delete
	absent           []string // UUIDs no ticket has
	cursors          []stormCursor
	bigBody          []byte // a JSON body over 1 MiB
	idemKeys         []string
	witnessETag      int64
	bigHeader        string // a large header value every sane limit takes (40 KiB)
	midHeader        string // one over a tight limit (64 KiB), under net/http's default (1 MiB)
	overMiBHeader    string // one over any limit
	hugeURITarget    string
	largeDescription string
	manyHeaders      []string // 24,000 header lines, over 1 MiB together
}

func newStormGen(seed uint64) *stormGen {
	g := &stormGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	desc := strings.Repeat("A", 1<<20+512)
	g.bigBody = []byte(`{"title":"too big","description":"` + desc + `"}`)
	g.largeDescription = strings.Repeat("d", 10_000) // the limit itself: valid
	g.bigHeader = strings.Repeat("h", 40<<10)
	g.midHeader = strings.Repeat("m", 200<<10)
	g.overMiBHeader = strings.Repeat("H", 1<<20+64<<10)
	g.hugeURITarget = "/tickets?assignee=" + strings.Repeat("u", 1<<20+64<<10)
	for i := range 6 {
		g.idemKeys = append(g.idemKeys, fmt.Sprintf("storm-%s-%d';--", stormMark, i))
	}
	g.idemKeys = append(g.idemKeys, "*", "ticket:*", strings.Repeat("k", 255))
	return g
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func (g *stormGen) chance(p float64) bool { return g.r.Float64() < p }

// metachars are SQL, Redis, shell, template and path metacharacters, and
// strings that are special somewhere (JSON keywords, cache key parts).
var metachars = []string{
	`' OR '1'='1`, `'; DROP TABLE tickets; --`, `" OR ""="`, `1) OR (1=1`, `'||pg_sleep(5)||'`,
	`$1`, `$$ $tag$`, `\`, `\\'`, `%`, `_%`, `/*`, `*/`, `--`, `;`, `E'\x00'`, `U&'\0000'`,
	`*`, `?`, `[a-z]*`, `KEYS *`, `FLUSHALL`, `*1\r\n$8\r\nFLUSHALL\r\n`, `EVAL "return 1" 0`,
	`ticket:*`, `tickets:all:*`, `tickets:gen:None:None`, `None`, `first`, `:`, `:::`, `{tickets}`,
	`${jndi:ldap://zqx}`, `{{7*7}}`, `<script>zqx</script>`, `../../etc/passwd`, `%00`, `%zz`, `%2e%2e`,
	`\u0000`, "\u202e" + stormMark, "\ufeff", "😀", "Ωmega", "日本語", `null`, `true`, `[]`, `{}`,
	`0x7fffffff`, `-9223372036854775809`, `1e999`, `NaN`, stormMark, "a\tb", "line\nbreak",
}

// meta is one or two metacharacter strings, often with the mark.
func (g *stormGen) meta() string {
	s := pick(g.r, metachars)
	if g.chance(0.3) {
		s += pick(g.r, metachars)
	}
	if g.chance(0.5) {
		s += stormMark
	}
	return s
}

// text is a valid text field value: a metacharacter string of lo..hi runes
// after trimming, never holding NUL.
func (g *stormGen) text(lo, hi int) string {
	s := strings.TrimSpace(g.meta())
	for utf8.RuneCountInString(s) < lo {
		s += stormMark
	}
	if rs := []rune(s); len(rs) > hi {
		s = strings.TrimSpace(string(rs[:hi]))
		for utf8.RuneCountInString(s) < lo {
			s += "x"
		}
	}
	return s
}

// headerSafe is s as net/http's client will send it: control characters
// are for the raw-TCP families.
func headerSafe(s string) string {
	if httpguts.ValidHeaderFieldValue(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// kv is one member of a JSON object written in order, so that repeated and
// odd keys survive; a rawJSON value is written as it is.
type kv struct {
	k string
	v any
}

type rawJSON string

func obj(members ...kv) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.k)
		b.Write(k)
		b.WriteByte(':')
		if r, ok := m.v.(rawJSON); ok {
			b.WriteString(string(r))
			continue
		}
		v, err := json.Marshal(m.v)
		if err != nil {
			panic(err)
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes()
}

var (
	statuses   = []string{"open", "in_progress", "resolved", "closed"}
	priorities = []string{"low", "medium", "high", "urgent"}
	textFields = []string{"title", "description", "assignee", "reporter"}
	allFields  = []string{"title", "description", "status", "priority", "assignee", "reporter", "tags"}
)

// validBody is a body every rule accepts, full of metacharacters.
func (g *stormGen) validBody(create bool) []byte {
	var m []kv
	if create || g.chance(0.5) {
		m = append(m, kv{"title", g.text(1, 200)})
	}
	if g.chance(0.4) {
		switch g.r.IntN(4) {
		case 0:
			m = append(m, kv{"description", nil})
		case 1:
			m = append(m, kv{"description", g.largeDescription})
		default:
			m = append(m, kv{"description", g.text(0, 10_000)})
		}
	}
	if g.chance(0.4) {
		m = append(m, kv{"status", pick(g.r, statuses)})
	}
	if g.chance(0.4) {
		m = append(m, kv{"priority", pick(g.r, priorities)})
	}
	for _, f := range []string{"assignee", "reporter"} {
		if g.chance(0.3) {
			if g.chance(0.2) {
				m = append(m, kv{f, nil})
			} else {
				m = append(m, kv{f, g.text(0, 100)})
			}
		}
	}
	if g.chance(0.3) {
		seen := map[string]bool{}
		tags := []string{}
		for range g.r.IntN(6) {
			tg := g.text(1, 50)
			if !seen[tg] {
				seen[tg] = true
				tags = append(tags, tg)
			}
		}
		m = append(m, kv{"tags", tags})
	}
	if len(m) == 0 {
		m = append(m, kv{"priority", pick(g.r, priorities)})
	}
	g.r.Shuffle(len(m), func(i, j int) { m[i], m[j] = m[j], m[i] })
	return obj(m...)
}

// badBody is a body some rule refuses, with the statuses that refusal may
// have. create: for POST (a title is required).
func (g *stormGen) badBody(create bool) (family string, body []byte, want []int) {
	title := func() kv { return kv{"title", g.text(1, 200)} }
	withTitle := func(m ...kv) []byte {
		if create && g.chance(0.5) {
			m = append([]kv{title()}, m...)
		}
		return obj(m...)
	}
	bad := []int{http.StatusBadRequest}
	unprocessable := []int{http.StatusUnprocessableEntity}
	switch g.r.IntN(14) {
	case 0: // broken JSON
		return "json-broken", []byte(pick(g.r, brokenJSON)), bad
	case 1: // JSON that is not an object
		return "json-not-object", []byte(pick(g.r, []string{
			`[]`, `"title"`, `1`, `true`, `null`, `[{"title":"a"}]`, `""`, `-0`, `1e999`, ` [ ] `,
		})), bad
	case 2: // deeply nested: inside a field, or the whole body
		depth := pick(g.r, []int{64, 1000, 10_001, 100_000})
		if g.chance(0.5) {
			return "json-deep", []byte(strings.Repeat("[", depth) + strings.Repeat("]", depth)), bad
		}
		inner := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
		if g.chance(0.5) {
			inner = strings.Repeat("[", depth) + strings.Repeat("]", depth)
		}
		return "json-deep", withTitle(kv{pick(g.r, allFields), rawJSON(inner)}),
			[]int{http.StatusBadRequest, http.StatusUnprocessableEntity}
	case 3: // wrong types and huge numbers
		f := pick(g.r, allFields)
		v := pick(g.r, []string{`1`, `-1`, `1e999`, `-1e999`, `123456789012345678901234567890`, `0.5`, `true`,
			`false`, `{}`, `{"a":1}`, `[1]`, `["a",1]`, `[[]]`, `[null]`, `{"$gt":""}`})
		if f == "tags" {
			v = pick(g.r, []string{`"a"`, `1`, `1e999`, `{}`, `[1]`, `["a",1]`, `[["a"]]`, `[null]`, `[true]`, `[{"a":1}]`})
		}
		m := []kv{{f, rawJSON(v)}}
		if create && f != "title" {
			m = append([]kv{title()}, m...)
		}
		return "json-wrong-type", obj(m...), []int{http.StatusBadRequest, http.StatusUnprocessableEntity}
	case 4: // NUL in a text field or a tag (escaped, so the JSON is valid)
		v := pick(g.r, []string{"\x00", "a\x00b", " \x00 ", stormMark + "\x00", "\x00' OR 1=1 --"})
		f := pick(g.r, append(textFields, "tags", "status", "priority"))
		var m kv
		if f == "tags" {
			m = kv{"tags", []string{"ok", v}}
		} else {
			m = kv{f, v}
		}
		if create && f != "title" {
			return "json-nul", obj(title(), m), unprocessable
		}
		return "json-nul", obj(m), unprocessable
	case 5: // a raw NUL or control byte: not JSON at all
		return "json-raw-control", []byte(pick(g.r, []string{
			"{\"title\":\"a\x00b\"}", "{\"title\":\"a\x01\"}", "{\x00\"title\":\"a\"}", "\x00", "{\"title\":\"a\"}\x00",
		})), bad
	case 6: // too long or too many
		var m kv
		switch g.r.IntN(6) {
		case 0:
			m = kv{"title", strings.Repeat(pick(g.r, []string{"t", "é", "😀", "'"}), 201+g.r.IntN(2000))}
		case 1:
			m = kv{"description", strings.Repeat("d", 10_001+g.r.IntN(50_000))}
		case 2:
			m = kv{pick(g.r, []string{"assignee", "reporter"}), strings.Repeat("a", 101+g.r.IntN(500))}
		case 3:
			tags := make([]string, 21+g.r.IntN(5000))
			for i := range tags {
				tags[i] = fmt.Sprint("t", i)
			}
			m = kv{"tags", tags}
		case 4:
			m = kv{"tags", []string{strings.Repeat("x", 51+g.r.IntN(200))}}
		default:
			m = kv{"tags", pick(g.r, [][]string{{""}, {"   "}, {"a", "a"}, {"a", " a "}, {"x", ""}})}
		}
		if create && m.k != "title" {
			return "json-too-long", obj(title(), m), unprocessable
		}
		return "json-too-long", obj(m), unprocessable
	case 7: // fields tickets do not have, or spelt otherwise
		k := pick(g.r, []string{"Title", "TITLE", "id", "version", "created_at", "updated_at", "deleted_at",
			"title\x00", "title ", " title", "\xff", "__proto__", "constructor", "$where", stormMark + "' OR 1=1"})
		return "json-unknown-field", withTitle(kv{k, pick(g.r, []any{"x", 999, nil, true})}), unprocessable
	case 8: // a field given twice
		f := pick(g.r, allFields)
		var v1, v2 any = g.text(1, 50), g.text(1, 50)
		switch f {
		case "status":
			v1, v2 = "open", "closed"
		case "priority":
			v1, v2 = "low", "urgent"
		case "tags":
			v1, v2 = []string{"a"}, []string{"b"}
		}
		return "json-duplicate-key", obj(kv{f, v1}, kv{f, v2}), unprocessable
	case 9: // nothing to change, or nothing at all: blank and null where they are not allowed
		m := pick(g.r, [][]kv{{}, {{"title", nil}}, {{"title", "   "}}, {{"title", ""}}, {{"status", nil}}, {{"priority", nil}}})
		if create && len(m) == 0 {
			m = []kv{{"description", "no title"}}
		}
		return "json-empty", obj(m...), unprocessable
	case 10: // enums off by a little, or by a lot
		f := pick(g.r, []string{"status", "priority"})
		v := pick(g.r, []any{"OPEN", "Open", "open ", " low", "in-progress", "done", "", "0", 0, stormMark, g.meta(), "closed\u200b"})
		return "json-bad-enum", withTitle(kv{f, v}), unprocessable
	case 11: // invalid UTF-8 in a key
		return "json-bad-utf8-key", []byte("{\"ti\xfftle\":\"a\"}"), unprocessable
	case 12: // the fields of a ticket that are not writable, alone
		return "json-readonly-field", obj(kv{pick(g.r, []string{"version", "id", "created_at"}), rawJSON(pick(g.r, []string{"999", "1", `"x"`, "null"}))}), unprocessable
	default: // a valid object with trailing garbage
		return "json-trailing", append(g.validBody(create), pick(g.r, []string{"x", "{}", ",", "]", " 1", "\x00"})...), bad
	}
}

// brokenJSON is JSON with a syntax error.
var brokenJSON = []string{
	``, `{`, `}`, `{"title":}`, `{"title":"a",}`, `{"title":"a"`, `{"title":'a'}`, `{title:"a"}`,
	`{"title":"a"}}`, `{"title":"a"}{"title":"b"}`, `{"title":"a" "status":"open"}`, `{"title":NaN}`,
	`{"title":Infinity}`, `{"title":0x10}`, `{"title":01}`, `{"title":"\x"}`, `{"title":"\u12"}`,
	`{"title":"a"/*c*/}`, "\ufeff{\"title\":\"a\"}", `{"title":"a`, `{"title":tru}`, `{"tags":[,]}`,
	`{"tags":["a",]}`, `{"title":"a",,"status":"open"}`, `{:"a"}`, `{"title"::"a"}`, `nul`, `{"title":"a"}]`,
	`{"title":-}`, `{"title":1.}`, `{"title":.5}`, `{"title":+1}`, `{"title":"` + "\n" + `"}`,
}

// badContentTypes are media types that are not JSON; "" means none at all.
var badContentTypes = []string{
	"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
	"application/jsonx", "application/xml", "text/json", "json", "*/*", "application/octet-stream",
	"' OR 1=1 --", "application/json-patch", "text/html; charset=" + stormMark,
}

// goodContentTypes are spellings of JSON the command service accepts.
var goodContentTypes = []string{
	"application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "Application/Json; charset=UTF-8",
	"application/merge-patch+json", "application/problem+json",
}

// auth picks an Authorization header for a route that needs scope, and the
// status a token problem gets: 0 for a good token.
func (g *stormGen) auth(h http.Header, svc string) int {
	good, other := g.rw, g.read
	if svc == "query" {
		other = g.write
	}
	if g.chance(0.8) {
		if g.chance(0.5) {
			good = pick(g.r, []string{g.rw, g.rw, g.write})
			if svc == "query" {
				good = pick(g.r, []string{g.rw, g.rw, g.read})
			}
		}
		h.Set("Authorization", pick(g.r, []string{"Bearer ", "Bearer ", "bearer ", "BEARER ", "Bearer   "})+good)
		return 0
	}
	if g.chance(0.2) {
		h.Set("Authorization", "Bearer "+other)
		return http.StatusForbidden
	}
	tok := g.rw
	switch g.r.IntN(15) {
	case 0: // none
	case 1:
		h.Set("Authorization", "")
	case 2:
		h.Set("Authorization", "Bearer")
	case 3:
		h.Set("Authorization", "Basic "+"YWRtaW46YWRtaW4=")
	case 4:
		h.Set("Authorization", "Bearer "+tok[:len(tok)-2])
	case 5:
		b := []byte(tok)
		i := g.r.IntN(len(b))
		b[i] ^= 0x01
		if b[i] == '.' || b[i] == '/' || b[i] == 0x7f || b[i] < 0x21 {
			b[i] = '*'
		}
		h.Set("Authorization", "Bearer "+string(b))
	case 6:
		h.Set("Authorization", "Bearer "+tok+stormMark)
	case 7:
		h.Set("Authorization", "Bearer "+tok+" "+tok)
	case 8:
		h.Set("Authorization", tok)
	case 9:
		h.Set("Authorization", "Bearer "+headerSafe(g.meta()))
	case 10:
		h.Set("Authorization", "Bearer "+strings.Repeat("A", 1<<g.r.IntN(15)))
	case 11:
		h.Set("Authorization", "Bearer \xff\xfe"+stormMark)
	case 12:
		h.Set("Authorization", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ6cXgiLCJzY29wZSI6InRpY2tldHM6d3JpdGUgdGlja2V0czpyZWFkIn0.")
	case 13:
		h.Set("Authorization", "Bearer "+g.bigHeader)
	default:
		h.Add("Authorization", "Bearer garbage")
		h.Add("Authorization", "Bearer "+tok)
	}
	return http.StatusUnauthorized
}

// noise adds headers that must change nothing: request ids, forwarding
// and override headers, odd names and values.
func (g *stormGen) noise(h http.Header) {
	for range g.r.IntN(4) {
		switch g.r.IntN(12) {
		case 0:
			h.Set("X-Request-ID", headerSafe(pick(g.r, []string{g.meta(), strings.Repeat("r", 129), "ok-id." + stormMark, ""})))
		case 1:
			h.Set("X-Forwarded-For", headerSafe(pick(g.r, []string{"127.0.0.1, " + g.meta(), "::1", "999.999.999.999"})))
		case 2:
			h.Set("X-HTTP-Method-Override", pick(g.r, []string{"DELETE", "PUT", "GET", stormMark}))
		case 3:
			h.Set("X-Original-URL", "/tickets/"+g.witness)
			h.Set("X-Rewrite-URL", "/tickets/"+g.witness)
		case 4:
			h.Set("Accept", headerSafe(pick(g.r, []string{"*/*", "text/html", "application/xml;q=0.9", g.meta(), ""})))
		case 5:
			h.Set("Cookie", headerSafe("session="+g.meta()))
		case 6:
			h.Set("User-Agent", headerSafe(g.meta()))
		case 7:
			h.Set("X-"+stormMark+"-'*$!#|~", headerSafe(g.meta()))
		case 8:
			h.Set("Accept-Encoding", pick(g.r, []string{"gzip", "br, zstd", "identity;q=0", stormMark}))
		case 9:
			h.Set("Range", pick(g.r, []string{"bytes=0-1", "bytes=-1", "bytes=" + stormMark}))
		case 10:
			h.Set("Forwarded", headerSafe("for="+g.meta()+";proto=https"))
		default:
			h.Set("Origin", headerSafe("http://"+g.meta()))
		}
	}
}

// badIDs are spellings of an id that are no UUID in canonical form.
func (g *stormGen) badID() string {
	u := pick(g.r, g.absent)
	return pick(g.r, []string{
		"0", "-1", "1e9", "null", "undefined", "true", "%20", "%00", "%FF%FE", "%C0%AF", "%E2%80%AE" + stormMark,
		url.PathEscape(g.meta()), strings.ReplaceAll(u, "-", ""), "%7B" + u + "%7D", "urn:uuid:" + u,
		u + "%00", "%00" + u, u + "%20", "%20" + u, u + "x", u[:35], u + u, u + "%3B", u + ".json",
		u[:8] + "-" + u[9:13] + "-" + u[14:18] + "-" + u[19:23] + "%2D" + u[24:] + "0",
		strings.Repeat("f", 10_000), "1'%20OR%20'1'='1", "*", "..", "%2e%2e", "%2E%2E%2Fmetrics",
		"00000000-0000-0000-0000-00000000000g", "-00000000-0000-0000-0000-00000000000",
		"%D9%A0%D9%A1%D9%A2", // Arabic-Indic digits
	})
}

// witnessSpelling is the witness's id as the server reads it (case and
// percent-encoding changed), and witnessMisspelling one it must refuse.
func (g *stormGen) witnessSpelling() string {
	id := g.witness
	switch g.r.IntN(4) {
	case 0:
		return id
	case 1:
		return strings.ToUpper(id)
	case 2:
		b := []byte(id)
		for i := range b {
			if g.chance(0.5) {
				b[i] = byte(strings.ToUpper(string(b[i]))[0])
			}
		}
		return string(b)
	default:
		var s strings.Builder
		for i := range len(id) {
			if g.chance(0.3) {
				fmt.Fprintf(&s, "%%%02X", id[i])
			} else {
				s.WriteByte(id[i])
			}
		}
		return s.String()
	}
}

func (g *stormGen) witnessMisspelling() string {
	id := g.witness
	return pick(g.r, []string{
		"%7B" + id + "%7D", "urn:uuid:" + id, strings.ReplaceAll(id, "-", ""), "%20" + id, id + "%20",
		id + "%00", id + "x", id[:35], id + "%3F", id + ".json", id + "%2F", id + "/", "/" + id, id + ";",
		strings.ToUpper(strings.ReplaceAll(id, "-", "")), id + "%0A", "%09" + id,
	})
}

// nonMatching is an If-Match header the witness's version cannot satisfy.
func (g *stormGen) nonMatching() string {
	for {
		v := g.ifMatch()
		if tags, anyTag := httpx.ParseEntityTags(v); !anyTag && !hasStrong(tags, g.witnessETag) {
			return v
		}
	}
}

func hasStrong(tags []httpx.EntityTag, version int64) bool {
	for _, t := range tags {
		if !t.Weak && t.Version == version {
			return true
		}
	}
	return false
}

// ifMatch is an If-Match header of any kind.
func (g *stormGen) ifMatch() string {
	return headerSafe(pick(g.r, []string{
		`*`, `"1"`, `W/"1"`, `"01"`, `"-1"`, `"0"`, `"9223372036854775807"`, `"99999999999999999999"`, `1`, `""`,
		`"`, `"1", W/"2"`, `"2", "3"`, ` , ,`, `*, "1"`, `"*"`, `W/*`, `"1e0"`, `"0x1"`, `"+1"`, `" 1"`,
		`"` + stormMark + `"`, g.meta(), strings.Repeat(`"2",`, 5000), "\xff\xfe", `"1`, `1"`, `w/"1"`,
	}))
}

// withQuery adds junk to a target now and then; the command service has no
// query parameters and must ignore them.
func (g *stormGen) withQuery(target string) string {
	if !g.chance(0.1) {
		return target
	}
	return target + "?" + pick(g.r, []string{"x=1", "id=" + g.witness, "title=" + url.QueryEscape(g.meta()), "%zz", ";", "a=1&a=2"})
}

// commandReq is one request to the command service.
func (g *stormGen) commandReq() stormReq {
	req := stormReq{svc: "command", header: http.Header{}}
	g.noise(req.header)
	switch n := g.r.IntN(100); {
	case n < 30:
		g.post(&req)
	case n < 60:
		g.update(&req)
	case n < 70:
		g.remove(&req)
	case n < 73:
		g.replayWitnessKey(&req)
	case n < 85:
		g.witnessReq(&req)
	default:
		g.oddMethodOrPath(&req)
	}
	return req
}

// body sets a JSON body (with a content type from ctypes) on req.
func (req *stormReq) setBody(body []byte, ctype string) {
	req.body = body
	if ctype != "" {
		req.header.Set("Content-Type", ctype)
	}
}

func (g *stormGen) post(req *stormReq) {
	req.method, req.target = http.MethodPost, g.withQuery("/tickets")
	authStatus := g.auth(req.header, "command")
	ctype := pick(g.r, goodContentTypes)
	var want []int
	switch n := g.r.IntN(100); {
	case n < 25:
		req.family = "post-valid"
		req.setBody(g.validBody(true), ctype)
		if g.chance(0.2) {
			req.chunked = true
		}
		want = []int{http.StatusCreated}
	case n < 70:
		fam, body, w := g.badBody(true)
		req.family = "post-" + fam
		req.setBody(body, ctype)
		req.chunked = g.chance(0.1)
		want = w
	case n < 78:
		req.family = "post-content-type"
		req.setBody(g.validBody(true), pick(g.r, badContentTypes))
		want = []int{http.StatusUnsupportedMediaType}
	case n < 86:
		req.family = "post-idempotency-key-bad"
		req.setBody(g.validBody(true), ctype)
		req.header.Set("Idempotency-Key", headerSafe(pick(g.r, []string{
			strings.Repeat("k", 256), "a b", "a\tb", "\xff\xfe", "é", "' OR 1=1 --", "ключ", strings.Repeat("k", 16<<10),
		})))
		want = []int{http.StatusBadRequest}
	case n < 94:
		req.family = "post-idempotency-key-odd"
		req.setBody(g.validBody(true), ctype)
		if g.chance(0.5) {
			req.body = []byte(`{"title":"same body ` + stormMark + `"}`)
		}
		req.header.Set("Idempotency-Key", pick(g.r, g.idemKeys))
		// The same key with another body is a 422, while the first is running a 409.
		want = []int{http.StatusCreated, http.StatusConflict, http.StatusUnprocessableEntity}
	case n < 97:
		req.family = "post-body-too-large"
		req.setBody(g.bigBody, ctype)
		req.bigBody = true
		req.chunked = g.chance(0.5)
		want = []int{http.StatusRequestEntityTooLarge}
	default:
		req.family = "post-huge-headers"
		req.header.Set("Authorization", "Bearer "+g.rw) // two big headers would be over the limit
		authStatus = 0
		req.setBody(g.validBody(true), ctype)
		req.header.Set(pick(g.r, []string{"X-Request-ID", "If-Match", "Cookie", "X-" + stormMark}), g.bigHeader)
		want = []int{http.StatusCreated}
	}
	req.want = want
	if authStatus != 0 {
		req.want = []int{authStatus}
	}
}

// target is the id of a PUT, PATCH or DELETE: a decoy (may exist), an
// absent UUID or a malformed id.
func (g *stormGen) target() (id, kind string) {
	switch n := g.r.IntN(10); {
	case n < 4:
		d := pick(g.r, g.decoys)
		if g.chance(0.2) {
			d = strings.ToUpper(d)
		}
		return d, "decoy"
	case n < 7:
		return pick(g.r, g.absent), "absent"
	default:
		return g.badID(), "bad-id"
	}
}

// outcome is what a well-formed write on target kind may answer.
func outcome(method, kind string) []int {
	ok := http.StatusOK
	if method == http.MethodDelete {
		ok = http.StatusNoContent
	}
	switch kind {
	case "decoy":
		return []int{ok, http.StatusNotFound, http.StatusPreconditionFailed}
	case "absent":
		return []int{http.StatusNotFound, http.StatusPreconditionFailed}
	default:
		return []int{http.StatusBadRequest, http.StatusNotFound}
	}
}

func (g *stormGen) update(req *stormReq) {
	req.method = pick(g.r, []string{http.MethodPut, http.MethodPatch})
	id, kind := g.target()
	req.target = g.withQuery("/tickets/" + id)
	authStatus := g.auth(req.header, "command")
	ctype := pick(g.r, goodContentTypes)
	if g.chance(0.3) {
		req.header.Set("If-Match", g.ifMatch())
	}
	var want []int
	switch n := g.r.IntN(100); {
	case n < 35:
		req.family = "update-valid"
		req.setBody(g.validBody(false), ctype)
		req.chunked = g.chance(0.1)
		want = outcome(req.method, kind)
	case n < 80:
		fam, body, w := g.badBody(false)
		req.family = "update-" + fam
		req.setBody(body, ctype)
		want = w
	case n < 88:
		req.family = "update-content-type"
		req.setBody(g.validBody(false), pick(g.r, badContentTypes))
		want = []int{http.StatusUnsupportedMediaType}
	case n < 95:
		req.family = "update-no-body"
		if g.chance(0.5) {
			req.header.Set("Content-Type", ctype)
			want = []int{http.StatusBadRequest}
		} else {
			want = []int{http.StatusUnsupportedMediaType}
		}
	default:
		req.family = "update-body-too-large"
		req.setBody(g.bigBody, ctype)
		req.bigBody = true
		req.chunked = g.chance(0.5)
		want = []int{http.StatusRequestEntityTooLarge}
	}
	if kind == "bad-id" {
		// The id is read before the body; a Content-Length over the limit is refused before both.
		want = []int{http.StatusBadRequest}
		if req.family == "update-body-too-large" && !req.chunked {
			want = []int{http.StatusRequestEntityTooLarge}
		}
	}
	req.want = want
	if authStatus != 0 {
		req.want = []int{authStatus}
	}
	if kind == "bad-id" && routeMisses(id) {
		req.want = []int{http.StatusNotFound}
	}
}

// routeMisses tells an id that takes the path off /tickets/{id}: empty, or
// holding a slash once decoded. Such a path is a 404 before anything else.
func routeMisses(id string) bool {
	dec, err := url.PathUnescape(id)
	return err == nil && (dec == "" || strings.Contains(dec, "/"))
}

func (g *stormGen) remove(req *stormReq) {
	req.method = http.MethodDelete
	id, kind := g.target()
	if kind == "decoy" && g.chance(0.7) {
		// Decoys are few: most deletes go elsewhere, so that updates find them.
		id, kind = pick(g.r, g.absent), "absent"
	}
	req.family = "delete-" + kind
	req.target = g.withQuery("/tickets/" + id)
	authStatus := g.auth(req.header, "command")
	if g.chance(0.5) {
		req.header.Set("If-Match", g.ifMatch())
	}
	if g.chance(0.1) {
		req.setBody([]byte(`{"title":"a body on a delete"}`), "application/json")
	}
	req.want = outcome(req.method, kind)
	if kind == "bad-id" {
		req.want = []int{http.StatusBadRequest}
	}
	if authStatus != 0 {
		req.want = []int{authStatus}
	}
	if kind == "bad-id" && routeMisses(id) {
		req.want = []int{http.StatusNotFound}
	}
}

// replayWitnessKey sends the witness's Idempotency-Key again: with its body
// it replays the first answer, with another it is a 422; neither may change
// the witness or create a ticket.
func (g *stormGen) replayWitnessKey(req *stormReq) {
	req.method, req.target = http.MethodPost, "/tickets"
	req.header.Set("Authorization", "Bearer "+g.rw)
	req.header.Set("Idempotency-Key", g.witnessKey)
	req.poison = "the witness's idempotency key"
	if g.chance(0.5) {
		req.family = "witness-key-replay"
		req.setBody([]byte(g.witnessBody), pick(g.r, goodContentTypes))
		req.want = []int{http.StatusCreated}
		return
	}
	req.family = "witness-key-other-body"
	req.setBody(g.validBody(true), "application/json")
	req.want = []int{http.StatusUnprocessableEntity}
}

// witnessReq aims a write at the witness that must be refused: each carries
// a defect (its poison) that the contract refuses before anything changes.
func (g *stormGen) witnessReq(req *stormReq) {
	req.method = pick(g.r, []string{http.MethodPut, http.MethodPatch, http.MethodDelete})
	req.target = "/tickets/" + g.witnessSpelling()
	write := req.method != http.MethodDelete
	ctype := pick(g.r, goodContentTypes)
	if write {
		req.setBody(g.validBody(false), ctype)
	}
	good := func() { req.header.Set("Authorization", "Bearer "+g.rw) }
	poisons := []string{"auth", "if-match", "misspelt-id"}
	if write {
		poisons = append(poisons, "body", "body", "body", "content-type", "too-large")
	}
	req.poison = pick(g.r, poisons)
	req.family = "witness-" + req.poison
	switch req.poison {
	case "auth":
		for {
			req.header.Del("Authorization")
			if st := g.auth(req.header, "command"); st != 0 {
				req.want = []int{st}
				break
			}
		}
		if g.chance(0.5) {
			req.header.Set("If-Match", `"1"`)
		}
	case "if-match":
		good()
		req.header.Set("If-Match", g.nonMatching())
		req.want = []int{http.StatusPreconditionFailed}
	case "misspelt-id":
		good()
		req.target = "/tickets/" + g.witnessMisspelling()
		req.want = []int{http.StatusBadRequest, http.StatusNotFound}
	case "body":
		good()
		fam, body, w := g.badBody(false)
		req.family += "-" + strings.TrimPrefix(fam, "json-")
		req.setBody(body, ctype)
		req.want = w
	case "content-type":
		good()
		req.header.Del("Content-Type")
		req.setBody(req.body, pick(g.r, badContentTypes))
		req.want = []int{http.StatusUnsupportedMediaType}
	case "too-large":
		good()
		req.setBody(g.bigBody, ctype)
		req.bigBody = true
		req.chunked = g.chance(0.5)
		req.want = []int{http.StatusRequestEntityTooLarge}
	}
	if req.poison != "if-match" && g.chance(0.3) {
		// Even with a precondition that would hold, the defect refuses it.
		req.header.Set("If-Match", pick(g.r, []string{`"1"`, `*`}))
	}
}

// methods that no route serves, or that a route does not serve.
var oddMethods = []string{
	"PROPFIND", "TRACE", "FOO", "get", "Post", "M-SEARCH", "OPTIONS", "LINK", "PURGE", "QUERY", "MKCOL",
	"ZQX-'OR'1'!'1", strings.Repeat("X", 4000) + stormMark, "BREW", "HEAD", "GET", "POST", "PUT", "DELETE", "PATCH",
}

// routes maps each service's paths to the methods that have a handler.
var stormRoutes = map[string]map[string][]string{
	"command": {"/tickets": {"POST"}, "/tickets/{id}": {"PUT", "PATCH", "DELETE"}, "/healthz": {"GET"}, "/readyz": {"GET"},
		"/metrics": {"GET"}, "/openapi.yaml": {"GET"}},
	"query": {"/tickets": {"GET", "HEAD"}, "/tickets/{id}": {"GET", "HEAD"}, "/healthz": {"GET"}, "/readyz": {"GET"},
		"/metrics": {"GET"}, "/redis-health": {"GET"}, "/openapi.yaml": {"GET"}},
	"cache-invalidator": {"/healthz": {"GET"}, "/readyz": {"GET"}, "/metrics": {"GET"}},
}

var unknownPaths = []string{
	"/", "/tickets/", "/tickets//", "/TICKETS", "/tickets/{id}/x", "/zqx'OR'1'='1", "/metrics/x", "/.env",
	"/admin", "/debug/pprof/", "/debug/pprof/heap", "/%2e%2e/etc/passwd", "/healthz/",
	"/readyz%00", "/" + strings.Repeat("p", 8000), "/tickets/{id}/../{id}", "/tickets;a=1",
	"/redis-health/x", "/" + stormMark + "%E2%80%AE", "/static/../../",
}

// oddMethodOrPath sends a method the path has no handler for, or a path
// that does not exist: 405 or 404, as a problem, on every service.
func (g *stormGen) oddMethodOrPath(req *stormReq) {
	routes := stormRoutes[req.svc]
	id := pick(g.r, append(append([]string{}, g.absent...), g.witness))
	if g.chance(0.4) {
		req.family = "unknown-path"
		req.method = pick(g.r, []string{"GET", "POST", "PUT", "DELETE", "HEAD", pick(g.r, oddMethods)})
		req.target = strings.ReplaceAll(pick(g.r, unknownPaths), "{id}", id)
		req.want = []int{http.StatusNotFound, http.StatusMethodNotAllowed}
		if req.method == "PUT" || req.method == "PATCH" || req.method == "DELETE" {
			if req.svc == "command" && strings.Contains(req.target, g.witness) {
				// "/tickets/{id}/../{id}" is not cleaned by the server (gin does not),
				// but a refusal is certain only with a defect.
				req.header.Set("If-Match", g.nonMatching())
				req.poison = "if-match on an odd path"
			}
		}
	} else {
		req.family = "method-not-allowed"
		paths := make([]string, 0, len(routes))
		for p := range routes {
			paths = append(paths, p)
		}
		slices.Sort(paths)
		p := pick(g.r, paths)
		allowed := routes[p]
		for {
			req.method = pick(g.r, oddMethods)
			if !slices.Contains(allowed, req.method) {
				break
			}
		}
		req.target = strings.ReplaceAll(p, "{id}", id)
		req.want = []int{http.StatusMethodNotAllowed}
	}
	if g.chance(0.5) {
		req.header.Set("Authorization", "Bearer "+g.rw)
	}
	if g.chance(0.3) {
		req.setBody(g.validBody(true), "application/json")
	}
}

// queryReq is one request to the query service.
func (g *stormGen) queryReq() stormReq {
	req := stormReq{svc: "query", header: http.Header{}, method: http.MethodGet}
	g.noise(req.header)
	if g.chance(0.15) {
		req.method = http.MethodHead
	}
	switch n := g.r.IntN(100); {
	case n < 55:
		g.list(&req)
	case n < 88:
		g.get(&req)
	case n < 92:
		req.family = "redis-health"
		req.target = "/redis-health" + pick(g.r, []string{"", "?x=" + stormMark})
		req.method = http.MethodGet
		req.want = []int{http.StatusOK}
		return req
	default:
		g.oddMethodOrPath(&req)
		return req
	}
	if st := g.auth(req.header, "query"); st != 0 && !req.noRoute {
		req.want = []int{st}
	}
	return req
}

// listParam is one parameter of a list request and whether the contract
// takes it: "ok", "bad" or "either" (where a refusal and an answer are both
// defensible).
type listParam struct {
	name, value string
	verdict     string
}

func (g *stormGen) listParams() []listParam {
	var ps []listParam
	add := func(name, value, verdict string) { ps = append(ps, listParam{name, value, verdict}) }
	if g.chance(0.4) {
		if g.chance(0.7) {
			add("status", pick(g.r, append(statuses, "")), "ok")
		} else {
			add("status", pick(g.r, []string{"OPEN", "done", "open ", g.meta(), "open\x00", "\xff", "in-progress"}), "bad")
		}
	}
	if g.chance(0.4) {
		switch g.r.IntN(5) {
		case 0, 1:
			add("assignee", g.text(0, 100), "ok")
		case 2:
			add("assignee", pick(g.r, []string{"", "alice", " ", "\t", "storm-a"}), "ok")
		case 3:
			add("assignee", pick(g.r, []string{"\x00", "a\x00", "\xff\xfe", "\xc0\xaf", strings.Repeat("a", 101), strings.Repeat("é", 101)}), "bad")
		default:
			add("assignee", strings.Repeat("a", 100), "ok")
		}
	}
	if g.chance(0.4) {
		if g.chance(0.7) {
			add("sort_by", pick(g.r, []string{"created_at", "updated_at", "priority", "title"}), "ok")
		} else {
			add("sort_by", pick(g.r, []string{"", "id", "title;DROP TABLE tickets", "priority_rank", "TITLE", "title desc", "(SELECT 1)", g.meta()}), "bad")
		}
	}
	if g.chance(0.4) {
		if g.chance(0.7) {
			add("order", pick(g.r, []string{"asc", "desc"}), "ok")
		} else {
			add("order", pick(g.r, []string{"", "ASC", "up", "desc;--", "asc,desc", g.meta()}), "bad")
		}
	}
	if g.chance(0.4) {
		switch g.r.IntN(3) {
		case 0:
			add("limit", strconv.Itoa(1+g.r.IntN(200)), "ok")
		case 1:
			add("limit", pick(g.r, []string{"0", "-1", "201", "1e2", "", "abc", "99999999999999999999", "2147483648",
				"-9223372036854775808", "1.5", "0x10", "NaN", " 5", "5 ", "½", "١٠"}), "bad")
		default:
			add("limit", pick(g.r, []string{"007", "+5", "050"}), "either")
		}
	}
	if g.chance(0.15) {
		add("cursor", pick(g.r, []string{"", "abc", "AAAA", strings.Repeat("A", 5000), "eyJzIjoiY3JlYXRlZF9hdCJ9",
			"null", g.meta(), "%00", "first", "*"}), "bad")
	}
	if g.chance(0.15) {
		name := pick(g.r, []string{"Status", "page", "offset", "q", "sort", "sort_by[]", "status[]", stormMark + "' OR 1=1", "", "\x00", "\xff"})
		add(name, g.meta(), "bad")
	}
	if g.chance(0.08) && len(ps) > 0 {
		p := pick(g.r, ps)
		// The same parameter twice is refused, whatever its value.
		add(p.name, p.value, "bad")
	}
	return ps
}

func (g *stormGen) list(req *stormReq) {
	req.family = "list"
	var parts []string
	verdict := "ok"
	if g.chance(0.2) && len(g.cursors) > 0 {
		// A genuine cursor with its own parameters, or taken to another list, or altered.
		c := pick(g.r, g.cursors)
		q := url.Values{}
		for k, v := range c.scope {
			q[k] = v
		}
		cur := c.cursor
		switch g.r.IntN(5) {
		case 0, 1:
			req.family = "list-cursor"
		case 2:
			req.family = "list-cursor-altered"
			b := []byte(cur)
			i := g.r.IntN(len(b) - 1) // not the last: base64 may ignore its spare bits
			b[i] = pick(g.r, []byte("ABCabc012-_"))
			if string(b) == cur {
				b = append(b, 'A')
			}
			cur = string(b)
			verdict = "bad"
		case 3:
			req.family = "list-cursor-other-list"
			if q.Get("order") == "asc" {
				q.Set("order", "desc")
			} else {
				q.Set("order", "asc")
			}
			verdict = "bad"
		default:
			req.family = "list-cursor-line-breaks"
			// base64 ignores line breaks: the same cursor, spelt otherwise.
			cur = cur[:len(cur)/2] + "\n" + cur[len(cur)/2:]
			verdict = "either"
		}
		q.Set("cursor", cur)
		if g.chance(0.5) {
			q.Set("limit", strconv.Itoa(1+g.r.IntN(200)))
		}
		parts = append(parts, q.Encode())
	} else {
		for _, p := range g.listParams() {
			if p.verdict == "bad" || verdict == "ok" {
				verdict = p.verdict
			}
			name, value := url.QueryEscape(p.name), url.QueryEscape(p.value)
			if g.chance(0.1) {
				// Escaped otherwise: %20 for spaces, or hex in capitals.
				value = strings.NewReplacer(";", "%3B", "&", "%26", "+", "%2B", "#", "%23", "=", "%3D").Replace(url.PathEscape(p.value))
			}
			parts = append(parts, name+"="+value)
		}
		if g.chance(0.08) {
			// A malformed query string: a bad escape, a semicolon, a bare percent sign.
			parts = append(parts, pick(g.r, []string{"status=%zz", "a;b", "%", "limit=5%", "=1", "status=%"}))
			verdict = "bad"
		}
	}
	req.target = "/tickets"
	if len(parts) > 0 || g.chance(0.1) {
		req.target += "?" + strings.Join(parts, "&")
	}
	switch verdict {
	case "ok":
		req.want = []int{http.StatusOK}
	case "bad":
		req.want = []int{http.StatusBadRequest}
	default:
		req.want = []int{http.StatusOK, http.StatusBadRequest}
	}
}

func (g *stormGen) get(req *stormReq) {
	var id string
	switch n := g.r.IntN(10); {
	case n < 3:
		req.family = "get-witness"
		id = g.witnessSpelling()
		req.want = []int{http.StatusOK, http.StatusNotModified}
	case n < 5:
		req.family = "get-decoy"
		id = pick(g.r, g.decoys)
		req.want = []int{http.StatusOK, http.StatusNotModified, http.StatusNotFound}
	case n < 7:
		req.family = "get-absent"
		id = pick(g.r, g.absent)
		req.want = []int{http.StatusNotFound}
	default:
		req.family = "get-bad-id"
		id = g.badID()
		if g.chance(0.3) {
			id = g.witnessMisspelling()
		}
		req.want = []int{http.StatusBadRequest}
		if routeMisses(id) {
			req.want = []int{http.StatusNotFound}
			req.noRoute = true
		}
	}
	req.target = "/tickets/" + id
	if g.chance(0.1) {
		req.target += "?" + pick(g.r, []string{"x=1", "fields=title", "status=open", "%zz", "id=" + g.witness})
		if !req.noRoute {
			req.want = []int{http.StatusBadRequest}
		}
	}
	if g.chance(0.3) {
		req.header.Set("If-None-Match", g.ifMatch())
	}
}

// invalidatorReq is one request to the cache-invalidator, which serves only
// the probes and /metrics.
func (g *stormGen) invalidatorReq() stormReq {
	req := stormReq{svc: "cache-invalidator", header: http.Header{}}
	g.noise(req.header)
	if g.chance(0.3) {
		g.auth(req.header, "command") // no token is needed, and none is checked
	}
	switch n := g.r.IntN(10); {
	case n < 3:
		req.family = "ops"
		req.method = http.MethodGet
		req.target = pick(g.r, []string{"/healthz", "/readyz", "/healthz?x=" + stormMark, "/readyz?verbose=1&" + stormMark})
		req.want = []int{http.StatusOK}
	case n < 4:
		req.family = "ops-metrics"
		req.method = http.MethodGet
		req.target = pick(g.r, []string{"/metrics", "/metrics?name[]=" + stormMark, "/metrics?format=" + stormMark})
		req.header.Set("Accept", pick(g.r, []string{"text/plain", "application/openmetrics-text; version=1.0.0", "*/*", stormMark}))
		req.want = []int{http.StatusOK}
	default:
		g.oddMethodOrPath(&req)
	}
	return req
}
