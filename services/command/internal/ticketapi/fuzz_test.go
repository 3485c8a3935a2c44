package ticketapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/pkg/problem"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/services/command/internal/app"
)

// fuzzMethods are the writes that take a body; the fuzzer picks one by index.
var fuzzMethods = []string{http.MethodPost, http.MethodPut, http.MethodPatch}

// FuzzReadPatch feeds arbitrary bodies to the whole body path of POST, PUT
// and PATCH (decodeInput, checkKeys, toPatch and the problem it answers).
// Either the patch is valid and normalised, or the answer is a 4xx problem
// with a bounded, printable errors list; an accepted patch re-encoded and
// read again is the same patch.
func FuzzReadPatch(f *testing.F) {
	gin.SetMode(gin.TestMode)
	for _, s := range []struct {
		method uint8
		ct     string
		body   string
	}{
		{0, "application/json", `{"title":"Printer on fire","description":"3rd floor","status":"open","priority":"urgent",` +
			`"assignee":"alice","reporter":"bob","tags":["hw","fire"]}`},
		{1, "application/json; charset=utf-8", `{"title":"  padded  ","assignee":null,"tags":[]}`},
		{2, "application/merge-patch+json", `{"status":"resolved"}`},
		{2, "application/json", `{}`},
		{0, "application/json", `{"TITLE":"x"}`},
		{0, "application/json", `{"title":"a","title":"b"}`},
		{0, "application/json", `{"t\u0069tle":"a"}`},
		{0, "application/json", `{"title":"a\u0000b"}`},
		{0, "application/json", "{\"title\":\"\xff\xfe\"}"},
		{0, "application/json", `{"title":1e999}`},
		{2, "application/json", `{"tags":[[[[[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]]]]}`},
		{2, "application/json", `{"tags":["","","","","","","","","","","","","","","","","","","","","",""]}`},
		{0, "application/json", `{"title":"","description":null,"status":"OPEN","priority":null,"assignee":"\u0000",` +
			`"reporter":"\u0000","tags":["a","a"," a ","\u0000",""]}`},
		{0, "text/plain", `{"title":"a"}`},
		{0, "application/json", `{"title":"a"} {"title":"b"}`},
		{0, "application/json", `null`},
		{1, "application/json", `[{"title":"a"}]`},
		{0, "application/json", `{"title":"a","ſtatus":"open"}`},
		{0, "application/json", `{"title":"` + strings.Repeat("é", ticket.MaxTitleLen+1) + `"}`},
	} {
		f.Add(s.method, s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, m uint8, contentType string, body []byte) {
		method := fuzzMethods[int(m)%len(fuzzMethods)]
		create := method == http.MethodPost
		p, ok, rec := runReadPatch(method, contentType, body)
		if !ok {
			checkProblem(t, rec)
			return
		}
		if rec.Body.Len() != 0 {
			t.Fatalf("accepted, yet answered %d %s", rec.Code, rec.Body)
		}
		checkPatch(t, p, create)

		// Round trip: the accepted patch, written as a body, reads back as itself.
		again, ok, rec := runReadPatch(method, "application/json", patchJSON(p))
		if !ok {
			t.Fatalf("re-encoded %s refused: %s", patchJSON(p), rec.Body)
		}
		if !reflect.DeepEqual(p, again) {
			t.Fatalf("round trip differs:\n%s\n%s", patchJSON(p), patchJSON(again))
		}
	})
}

func runReadPatch(method, contentType string, body []byte) (app.Patch, bool, *httptest.ResponseRecorder) {
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	c.Request = httptest.NewRequest(method, "/tickets", bytes.NewReader(body))
	c.Request.Header.Set("Content-Type", contentType)
	p, ok := readPatch(c, method == http.MethodPost)
	return p, ok, rec
}

// checkProblem holds for every refusal: a client error as problem JSON,
// with at most MaxFieldErrors errors (and the "(more)" line), each naming
// its field printably.
func checkProblem(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	switch rec.Code {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType,
		http.StatusUnprocessableEntity:
	default:
		t.Fatalf("refused with status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != problem.ContentType {
		t.Fatalf("content type %q", ct)
	}
	var pr problem.Problem
	if !utf8.Valid(rec.Body.Bytes()) {
		t.Fatalf("problem body is not UTF-8: %q", rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &pr); err != nil {
		t.Fatalf("problem body %q: %v", rec.Body, err)
	}
	if pr.Status != rec.Code || pr.Detail == "" {
		t.Fatalf("problem %+v", pr)
	}
	if len(pr.Errors) > problem.MaxFieldErrors+1 {
		t.Fatalf("%d field errors", len(pr.Errors))
	}
	for _, fe := range pr.Errors {
		// The field may be empty: a body can use "" as a key.
		if fe.Message == "" || utf8.RuneCountInString(fe.Field) > 65 ||
			strings.IndexFunc(fe.Field, unicode.IsControl) >= 0 {
			t.Fatalf("field error %+q", fe)
		}
	}
}

// checkPatch holds for every accepted patch: each text is valid UTF-8
// without NUL, trimmed, within its limit; enums are the contract's.
func checkPatch(t *testing.T, p app.Patch, create bool) {
	t.Helper()
	text := func(field string, v *string, minLen, maxLen int) {
		if v == nil {
			return
		}
		n := utf8.RuneCountInString(*v)
		if !utf8.ValidString(*v) || strings.ContainsRune(*v, 0) || strings.TrimSpace(*v) != *v || n < minLen || n > maxLen {
			t.Fatalf("%s %q accepted", field, *v)
		}
	}
	if create && p.Title == nil {
		t.Fatal("create without a title accepted")
	}
	if !create && p.Empty() {
		t.Fatal("an update that changes nothing accepted")
	}
	text("title", p.Title, 1, ticket.MaxTitleLen)
	text("description", p.Description, 0, ticket.MaxDescriptionLen)
	text("assignee", p.Assignee, 0, ticket.MaxPersonLen)
	text("reporter", p.Reporter, 0, ticket.MaxPersonLen)
	if p.Status != nil && !ticket.ValidStatus(*p.Status) {
		t.Fatalf("status %q accepted", *p.Status)
	}
	if p.Priority != nil && !ticket.ValidPriority(*p.Priority) {
		t.Fatalf("priority %q accepted", *p.Priority)
	}
	if p.Tags == nil {
		return
	}
	if len(*p.Tags) > ticket.MaxTags {
		t.Fatalf("%d tags accepted", len(*p.Tags))
	}
	seen := map[string]bool{}
	for _, tag := range *p.Tags {
		text("tag", &tag, 1, ticket.MaxTagLen)
		if seen[tag] {
			t.Fatalf("duplicate tag %q accepted", tag)
		}
		seen[tag] = true
	}
}

// patchJSON writes p as the body that sets exactly its fields.
func patchJSON(p app.Patch) []byte {
	m := map[string]any{}
	for name, v := range map[string]*string{"title": p.Title, "description": p.Description, "status": p.Status,
		"priority": p.Priority, "assignee": p.Assignee, "reporter": p.Reporter} {
		if v != nil {
			m[name] = *v
		}
	}
	if p.Tags != nil {
		m["tags"] = *p.Tags
	}
	b, _ := json.Marshal(m) // strings only: cannot fail
	return b
}
