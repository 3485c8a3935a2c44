package ticketapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/problem"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/services/command/internal/app"
)

// optional tells a field that was absent from one that was null.
type optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// ticketInput is the body of POST, PUT and PATCH: any subset of the writable
// fields. Unknown fields are rejected.
type ticketInput struct {
	Title       optional[string]   `json:"title"`
	Description optional[string]   `json:"description"`
	Status      optional[string]   `json:"status"`
	Priority    optional[string]   `json:"priority"`
	Assignee    optional[string]   `json:"assignee"`
	Reporter    optional[string]   `json:"reporter"`
	Tags        optional[[]string] `json:"tags"`
}

// errBadInput carries the problem to answer for an unreadable body.
type errBadInput struct {
	status int
	detail string
	fields []problem.FieldError
}

func (e *errBadInput) Error() string { return e.detail }

// decodeInput reads and checks a JSON body. It returns *errBadInput for
// everything the client got wrong.
func decodeInput(contentType string, body io.Reader) (ticketInput, error) {
	var in ticketInput
	if !isJSON(contentType) {
		return in, &errBadInput{status: 415, detail: "the body must be application/json"}
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		if httpx.IsBodyTooLarge(err) {
			return in, &errBadInput{status: 413, detail: "the body is larger than 1 MiB"}
		}
		return in, &errBadInput{status: 400, detail: "the body could not be read"}
	}
	// null decodes into a struct without an error; it is no object either.
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return in, &errBadInput{status: 400, detail: "the body must be a JSON object"}
	}
	// encoding/json matches keys without regard to case and lets a
	// repeated key win: "TITLE" would set the title, and a proxy or a log
	// reading the first "title" would see another ticket than this service.
	// The keys are checked as written first.
	if bad := checkKeys(raw); bad != nil {
		return in, bad
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err = dec.Decode(&in)
	if err == nil && dec.More() {
		err = errors.New("trailing data")
	}
	if err == nil {
		// Decode stops after the first value; anything but whitespace after it is malformed.
		var extra json.RawMessage
		if dec.Decode(&extra) != io.EOF {
			err = errors.New("trailing data")
		}
	}
	if err == nil {
		return in, nil
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		// The body is an object (checked above), so the wrong type is a
		// field's. Which one is found by decoding each field alone: Go 1.27
		// no longer names the field of an error from an UnmarshalJSON method.
		field := typeErr.Field
		if field == "" {
			field = wrongTypeField(raw)
		}
		return in, &errBadInput{status: 422, detail: "a field has the wrong type",
			fields: []problem.FieldError{{Field: field, Message: "must be " + jsonKind(typeErr.Type.String())}}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return in, &errBadInput{status: 422, detail: "the body has a field that tickets do not have",
			fields: []problem.FieldError{{Field: name, Message: "unknown field"}}}
	default:
		return in, &errBadInput{status: 400, detail: "the body is not a single valid JSON object"}
	}
}

// wrongTypeField is the first field of an object body, in the order written,
// that does not decode on its own.
func wrongTypeField(raw []byte) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return ""
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return ""
		}
		one, _ := json.Marshal(map[string]json.RawMessage{key: value})
		var in ticketInput
		if json.Unmarshal(one, &in) != nil {
			return key
		}
	}
	return ""
}

// fieldNames are the body's keys, exactly as the API spells them.
var fieldNames = map[string]bool{
	"title": true, "description": true, "status": true, "priority": true,
	"assignee": true, "reporter": true, "tags": true,
}

// checkKeys reads the top-level keys of a JSON object and refuses one the
// API does not spell that way, or one given twice. Anything that is not an
// object is left for the decoder to report.
func checkKeys(raw []byte) *errBadInput {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := tok.(string)
		switch {
		case !fieldNames[key]:
			return &errBadInput{status: 422, detail: "the body has a field that tickets do not have",
				fields: []problem.FieldError{{Field: fieldName(key), Message: "unknown field"}}}
		case seen[key]:
			return &errBadInput{status: 422, detail: "the body names a field twice",
				fields: []problem.FieldError{{Field: key, Message: "is given more than once"}}}
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return nil
}

// fieldName is a client's key as an error may show it: printable, and short.
func fieldName(k string) string {
	k = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) { // C0, DEL and C1 (found by fuzzing)
			return -1
		}
		return r
	}, k)
	if len(k) > 64 {
		k = k[:64] + "…"
	}
	return strings.ToValidUTF8(k, "")
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

func jsonKind(goType string) string {
	switch goType {
	case "string":
		return "a string"
	case "[]string":
		return "an array of strings"
	}
	return "a valid value"
}

// toPatch validates and normalises the input. create requires a title.
func (in ticketInput) toPatch(create bool) (app.Patch, []problem.FieldError) {
	var (
		p    app.Patch
		errs []problem.FieldError
	)
	fail := func(field, msg string) { errs = append(errs, problem.FieldError{Field: field, Message: msg}) }

	text := func(field string, o optional[string], maxLen int, required, nullable bool) *string {
		switch {
		case !o.Set:
			if required {
				fail(field, "is required")
			}
			return nil
		case o.Null && !nullable:
			fail(field, "must not be null")
			return nil
		}
		v := strings.TrimSpace(o.Value)
		n := utf8.RuneCountInString(v)
		switch {
		case strings.ContainsRune(v, 0):
			// Postgres refuses NUL in text: a 422 here, not a 500 there.
			fail(field, "must not contain a NUL character")
		case !nullable && n == 0:
			// A field that cannot be cleared cannot be blank either.
			fail(field, "must not be empty")
		case n > maxLen:
			fail(field, fmt.Sprintf("must be at most %d characters", maxLen))
		}
		return &v
	}
	p.Title = text("title", in.Title, ticket.MaxTitleLen, create, false)
	p.Description = text("description", in.Description, ticket.MaxDescriptionLen, false, true)
	p.Assignee = text("assignee", in.Assignee, ticket.MaxPersonLen, false, true)
	p.Reporter = text("reporter", in.Reporter, ticket.MaxPersonLen, false, true)

	enum := func(field string, o optional[string], valid func(string) bool, allowed string) *string {
		if !o.Set {
			return nil
		}
		if o.Null || !valid(o.Value) {
			fail(field, "must be one of "+allowed)
			return nil
		}
		v := o.Value
		return &v
	}
	p.Status = enum("status", in.Status, ticket.ValidStatus, "open, in_progress, resolved, closed")
	p.Priority = enum("priority", in.Priority, ticket.ValidPriority, "low, medium, high, urgent")

	if in.Tags.Set {
		tags := []string{}
		if len(in.Tags.Value) > ticket.MaxTags {
			// Too many is reported once: the tags themselves are not checked,
			// so a megabyte of empty tags is a small answer, not a huge one.
			fail("tags", fmt.Sprintf("must have at most %d tags", ticket.MaxTags))
			p.Tags = &tags
			return p, errs
		}
		seen := map[string]bool{}
		for i, tag := range in.Tags.Value {
			tag = strings.TrimSpace(tag)
			n := utf8.RuneCountInString(tag)
			field := fmt.Sprintf("tags[%d]", i)
			switch {
			case strings.ContainsRune(tag, 0):
				fail(field, "must not contain a NUL character")
			case n == 0 || n > ticket.MaxTagLen:
				fail(field, fmt.Sprintf("must be 1 to %d characters", ticket.MaxTagLen))
			case seen[tag]:
				fail(field, "is a duplicate")
			}
			seen[tag] = true
			tags = append(tags, tag)
		}
		p.Tags = &tags
	}
	return p, errs
}
