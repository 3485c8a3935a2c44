package asyncapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"
	"go.yaml.in/yaml/v4"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/ticketsys/ticketsys/api/asyncapi"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// Where the tests read what the code does not export: the header constants
// (to find every one, also one added later) and the invalidator's DLQ
// subject default (an internal package).
const (
	ticketeventDir    = "../../pkg/ticketevent"
	invalidatorConfig = "../../services/cache-invalidator/internal/config/config.go"
)

// document is tickets.yaml decoded into plain values (map[string]any,
// []any, string, float64, bool), as JSON would decode it.
type document map[string]any

func parse(raw []byte) (document, error) {
	var y any
	if err := yaml.Unmarshal(raw, &y); err != nil {
		return nil, err
	}
	// Through JSON, so that values compare like decoded event bodies.
	j, err := json.Marshal(y)
	if err != nil {
		return nil, err
	}
	var d document
	if err := json.Unmarshal(j, &d); err != nil {
		return nil, err
	}
	return d, nil
}

func load(t *testing.T) document {
	t.Helper()
	d, err := parse(asyncapi.Tickets())
	if err != nil {
		t.Fatalf("tickets.yaml: %v", err)
	}
	return d
}

// at follows a JSON pointer (#/a/b) from the document's root.
func (d document) at(ptr string) map[string]any {
	var cur any = map[string]any(d)
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "#/"), "/") {
		m, _ := cur.(map[string]any)
		cur = m[strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")]
	}
	m, _ := cur.(map[string]any)
	return m
}

// deref follows $ref until a schema without one (draft-07: a $ref's
// siblings do not count).
func (d document) deref(s map[string]any) map[string]any {
	for i := 0; s != nil && i < 10; i++ {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		s = d.at(ref)
	}
	return s
}

// props is every property a schema declares, through allOf.
func (d document) props(s map[string]any) map[string]map[string]any {
	s = d.deref(s)
	out := map[string]map[string]any{}
	for _, sub := range asList(s["allOf"]) {
		maps.Copy(out, d.props(asMap(sub)))
	}
	for name, p := range asMap(s["properties"]) {
		out[name] = asMap(p)
	}
	return out
}

// required is every required property of a schema, through allOf.
func (d document) required(s map[string]any) []string {
	s = d.deref(s)
	var out []string
	for _, sub := range asList(s["allOf"]) {
		out = append(out, d.required(asMap(sub))...)
	}
	for _, r := range asList(s["required"]) {
		out = append(out, fmt.Sprint(r))
	}
	return out
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
func asList(v any) []any         { l, _ := v.([]any); return l }
func asString(v any) string      { s, _ := v.(string); return s }

func strs(v any) []string {
	var out []string
	for _, x := range asList(v) {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// --- the payload against the proto descriptor

// jsonName is the name ticketevent.Marshal gives a field: protojson with
// UseProtoNames, the proto field name. TestProducedMessagesMatchSchema
// checks the choice against Marshal's output.
func jsonName(fd protoreflect.FieldDescriptor) string { return string(fd.Name()) }

func checkPayload(d document) []string {
	var p []string
	for _, m := range []string{"TicketChanged", "DeadLetter"} {
		payload := asMap(d.at("#/components/messages/" + m)["payload"])
		if payload == nil {
			p = append(p, "components/messages/"+m+" has no payload")
			continue
		}
		p = append(p, compareMessage(d, "messages/"+m+"/payload", payload,
			(&eventsv1.TicketChanged{}).ProtoReflect().Descriptor())...)
	}
	return p
}

func compareMessage(d document, where string, s map[string]any, md protoreflect.MessageDescriptor) []string {
	s = d.deref(s)
	var p []string
	if s["type"] != "object" {
		p = append(p, fmt.Sprintf("%s (%s): type %v, want object", where, md.FullName(), s["type"]))
	}
	props := asMap(s["properties"])
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		name := jsonName(fd)
		ps := asMap(props[name])
		if ps == nil {
			p = append(p, fmt.Sprintf("%s: no property %q for field %s", where, name, fd.FullName()))
			continue
		}
		p = append(p, compareField(d, where+"/"+name, ps, fd)...)
	}
	for name := range props {
		if fields.ByName(protoreflect.Name(name)) == nil || jsonName(fields.ByName(protoreflect.Name(name))) != name {
			p = append(p, fmt.Sprintf("%s: property %q is no field of %s", where, name, md.FullName()))
		}
	}
	for _, r := range strs(s["required"]) {
		if props[r] == nil {
			p = append(p, fmt.Sprintf("%s: required %q is no property", where, r))
		}
	}
	return p
}

func compareField(d document, where string, s map[string]any, fd protoreflect.FieldDescriptor) []string {
	s = d.deref(s)
	switch {
	case fd.IsMap():
		return []string{where + ": map fields are not handled by this test yet"}
	case fd.IsList():
		if s["type"] != "array" {
			return []string{fmt.Sprintf("%s: type %v, want array (repeated %s)", where, s["type"], fd.Kind())}
		}
		return compareValue(d, where+"/items", asMap(s["items"]), fd)
	}
	return compareValue(d, where, s, fd)
}

// compareValue compares the schema of one value of fd with its JSON
// mapping.
func compareValue(d document, where string, s map[string]any, fd protoreflect.FieldDescriptor) []string {
	s = d.deref(s)
	want := ""
	switch fd.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind:
		want = "string"
	case protoreflect.BoolKind:
		want = "boolean"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		want = "integer"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		want = "number"
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		// The JSON mapping writes 64-bit integers as decimal strings.
		if s["type"] != "string" || s["pattern"] == nil {
			return []string{fmt.Sprintf("%s: a 64-bit integer is a string with a pattern in JSON, not %v", where, s["type"])}
		}
		return nil
	case protoreflect.EnumKind:
		if s["type"] != "string" {
			return []string{fmt.Sprintf("%s: an enum is a string (its value's name) in JSON, not %v", where, s["type"])}
		}
		// The zero value is never written: the JSON mapping omits it, and
		// ticketevent.Unmarshal rejects an event without a change.
		var names []string
		vals := fd.Enum().Values()
		for i := range vals.Len() {
			if vals.Get(i).Number() != 0 {
				names = append(names, string(vals.Get(i).Name()))
			}
		}
		if got := strs(s["enum"]); !slices.Equal(got, names) {
			return []string{fmt.Sprintf("%s: enum %v, want %v (%s without its zero value)", where, got, names, fd.Enum().FullName())}
		}
		return nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if fd.Message().FullName() == "google.protobuf.Timestamp" {
			if s["type"] != "string" || s["format"] != "date-time" {
				return []string{fmt.Sprintf("%s: a Timestamp is a string of format date-time in JSON", where)}
			}
			return nil
		}
		return compareMessage(d, where, s, fd.Message())
	}
	if s["type"] != want {
		return []string{fmt.Sprintf("%s: type %v, want %s (%s)", where, s["type"], want, fd.Kind())}
	}
	return nil
}

func TestPayloadMatchesProto(t *testing.T) {
	t.Parallel()
	for _, p := range checkPayload(load(t)) {
		t.Error(p)
	}
}

// The string fields the API restricts are restricted in the schema the same
// way (they are plain strings in the proto).
func checkTicketValues(d document) []string {
	var p []string
	tk := d.props(d.at("#/components/schemas/Ticket"))
	for _, c := range []struct {
		name  string
		valid func(string) bool
		n     int
	}{{"status", ticket.ValidStatus, 4}, {"priority", ticket.ValidPriority, 4}} {
		vals := strs(d.deref(tk[c.name])["enum"])
		if len(vals) != c.n {
			p = append(p, fmt.Sprintf("Ticket/%s: enum %v, want the %d values of pkg/ticket", c.name, vals, c.n))
		}
		for _, v := range vals {
			if !c.valid(v) {
				p = append(p, fmt.Sprintf("Ticket/%s: %q is not valid in pkg/ticket", c.name, v))
			}
		}
	}
	all := ticket.ChangedFields(ticket.Ticket{}, ticket.Ticket{Title: "t", Description: "d", Status: "s",
		Priority: "p", Assignee: "a", Reporter: "r", Tags: []string{"x"}})
	cf := d.deref(d.props(d.at("#/components/schemas/TicketChanged"))["changed_fields"])
	if got := strs(d.deref(asMap(cf["items"]))["enum"]); !slices.Equal(got, all) {
		p = append(p, fmt.Sprintf("TicketChanged/changed_fields: enum %v, want %v (ticket.ChangedFields)", got, all))
	}
	return p
}

func TestTicketValuesMatchPkgTicket(t *testing.T) {
	t.Parallel()
	for _, p := range checkTicketValues(load(t)) {
		t.Error(p)
	}
}

// --- headers against pkg/ticketevent

// constants returns the string constants of pkg/ticketevent whose names
// start with prefix, by file: parsed from the source, so a constant added
// later is checked without anyone listing it here.
func constants(t testing.TB, prefix string) map[string]map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(ticketeventDir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sources in %s: %v", ticketeventDir, err)
	}
	out := map[string]map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range af.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					lit, ok := valueAt(vs, i).(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING || !strings.HasPrefix(n.Name, prefix) {
						continue
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					base := filepath.Base(f)
					if out[base] == nil {
						out[base] = map[string]string{}
					}
					out[base][n.Name] = v
				}
			}
		}
	}
	return out
}

func valueAt(vs *ast.ValueSpec, i int) ast.Expr {
	if i < len(vs.Values) {
		return vs.Values[i]
	}
	return nil
}

func checkHeaders(d document, consts map[string]map[string]string, reasons []string) []string {
	var p []string
	ce := consts["headers.go"] // ce-*, content-type, traceparent
	dlq := consts["dlq.go"]    // dlq-*, replay-of
	if len(ce) < 8 || len(dlq) < 9 {
		return []string{fmt.Sprintf("found only %d header constants in headers.go and %d in dlq.go", len(ce), len(dlq))}
	}
	for _, m := range []struct {
		message string
		want    map[string]string
	}{
		{"TicketChanged", ce},
		{"DeadLetter", ce},
		{"DeadLetter", dlq},
		{"TicketChanged", map[string]string{"jetstream.MsgIDHeader": jetstream.MsgIDHeader, "HeaderReplayOf": ticketevent.HeaderReplayOf}},
		{"DeadLetter", map[string]string{"jetstream.MsgIDHeader": jetstream.MsgIDHeader}},
	} {
		h := asMap(d.at("#/components/messages/" + m.message)["headers"])
		props := d.props(h)
		if d.deref(h)["type"] != "object" {
			p = append(p, m.message+": the headers schema is not of type object")
		}
		for _, name := range slices.Sorted(maps.Keys(m.want)) {
			if props[m.want[name]] == nil {
				p = append(p, fmt.Sprintf("%s: header %q (%s) is not in the headers schema", m.message, m.want[name], name))
			}
		}
	}
	// What ticketevent.Headers always sets is required of TicketChanged,
	// and every dead-letter header of a DeadLetter.
	ev := ticketevent.New(ticketevent.Meta{EventID: "e"}, ticketevent.Created, nil, &ticket.Ticket{ID: "t"}, 1)
	req := d.required(asMap(d.at("#/components/messages/TicketChanged")["headers"]))
	for name := range ticketevent.Headers(ev, "/s") {
		if !slices.Contains(req, name) {
			p = append(p, fmt.Sprintf("TicketChanged: header %q is always sent but not required", name))
		}
	}
	dh := asMap(d.at("#/components/messages/DeadLetter")["headers"])
	req = d.required(dh)
	for _, name := range slices.Sorted(maps.Keys(dlq)) {
		if v := dlq[name]; ticketevent.IsDLQHeader(v) && !slices.Contains(req, v) {
			p = append(p, fmt.Sprintf("DeadLetter: header %q (%s) is always set but not required", v, name))
		}
	}
	// Compared as sets: the document lists them in its own order.
	if got := slices.Sorted(slices.Values(strs(d.deref(d.props(dh)[ticketevent.HeaderDLQReason])["enum"]))); !slices.Equal(got, reasons) {
		p = append(p, fmt.Sprintf("DeadLetter: %s enum %v, want %v (DLQReason*)", ticketevent.HeaderDLQReason, got, reasons))
	}
	ceProps := d.props(asMap(d.at("#/components/messages/TicketChanged")["headers"]))
	for name, want := range map[string]string{
		ticketevent.HeaderSpecVersion: ticketevent.SpecVersion, ticketevent.HeaderType: ticketevent.EventType,
	} {
		if got := d.deref(ceProps[name])["const"]; got != want {
			p = append(p, fmt.Sprintf("TicketChanged: header %s const %v, want %q", name, got, want))
		}
	}
	return p
}

func dlqReasons(t testing.TB) []string {
	var out []string
	for _, byName := range constants(t, "DLQReason") {
		out = append(out, slices.Collect(maps.Values(byName))...)
	}
	slices.Sort(out)
	return out
}

func TestHeadersMatchTicketevent(t *testing.T) {
	t.Parallel()
	d := load(t)
	consts := constants(t, "Header")
	// The parsed constants are the compiled ones.
	if consts["headers.go"]["HeaderID"] != ticketevent.HeaderID || consts["dlq.go"]["HeaderDLQTime"] != ticketevent.HeaderDLQTime {
		t.Fatalf("parsed constants %v do not match the package", consts)
	}
	reasons := dlqReasons(t)
	if !slices.Equal(reasons, []string{ticketevent.DLQReasonExhausted, ticketevent.DLQReasonUndecodable}) {
		t.Fatalf("DLQ reasons parsed as %v", reasons)
	}
	for _, p := range checkHeaders(d, consts, reasons) {
		t.Error(p)
	}
}

// --- channels against the subject prefixes

// envDefault is the envDefault of the field of file's structs tagged
// env:"name".
func envDefault(t testing.TB, file, name string) string {
	t.Helper()
	af, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := ""
	ast.Inspect(af, func(n ast.Node) bool {
		f, ok := n.(*ast.Field)
		if !ok || f.Tag == nil {
			return true
		}
		tag, err := strconv.Unquote(f.Tag.Value)
		if err == nil && reflect.StructTag(tag).Get("env") == name {
			found = reflect.StructTag(tag).Get("envDefault")
		}
		return true
	})
	if found == "" {
		t.Fatalf("%s: no field tagged env:%q with an envDefault", file, name)
	}
	return found
}

func checkChannels(d document, dlqPrefix string) []string {
	var p []string
	events := ticketevent.StreamOptions{Name: ticketevent.DefaultStream, SubjectPrefix: ticketevent.DefaultSubjectPrefix}
	dlq := ticketevent.StreamOptions{Name: ticketevent.DefaultDLQStream, SubjectPrefix: dlqPrefix}
	for _, c := range []struct {
		channel string
		opts    ticketevent.StreamOptions
	}{{"ticketChanged", events}, {"deadLetters", dlq}} {
		ch := d.at("#/channels/" + c.channel)
		if want := c.opts.Subject("{ticketId}"); ch["address"] != want {
			p = append(p, fmt.Sprintf("channels/%s: address %v, want %s (subject prefix %s)", c.channel, ch["address"], want, c.opts.SubjectPrefix))
		}
		if params := asMap(ch["parameters"]); len(params) != 1 || params["ticketId"] == nil {
			p = append(p, fmt.Sprintf("channels/%s: parameters %v, want ticketId only", c.channel, slices.Collect(maps.Keys(params))))
		}
		if title := asString(ch["title"]); !strings.Contains(title, "stream "+c.opts.Name+")") {
			p = append(p, fmt.Sprintf("channels/%s: title %q does not name stream %s", c.channel, title, c.opts.Name))
		}
	}
	return p
}

func streamPrefixDefault() string {
	f, _ := reflect.TypeFor[ticketevent.StreamNames]().FieldByName("SubjectPrefix")
	return f.Tag.Get("envDefault")
}

func TestChannelsMatchSubjects(t *testing.T) {
	t.Parallel()
	// The defaults the services run with are the ones pkg/ticketevent names.
	if got := streamPrefixDefault(); got != ticketevent.DefaultSubjectPrefix {
		t.Fatalf("STREAM_SUBJECT_PREFIX defaults to %q, ticketevent.DefaultSubjectPrefix is %q", got, ticketevent.DefaultSubjectPrefix)
	}
	dlqPrefix := envDefault(t, invalidatorConfig, "DLQ_SUBJECT_PREFIX")
	if dlqPrefix != ticketevent.DefaultDLQPrefix {
		t.Fatalf("DLQ_SUBJECT_PREFIX defaults to %q, ticketevent.DefaultDLQPrefix is %q", dlqPrefix, ticketevent.DefaultDLQPrefix)
	}
	if got := envDefault(t, invalidatorConfig, "DLQ_STREAM_NAME"); got != ticketevent.DefaultDLQStream {
		t.Fatalf("DLQ_STREAM_NAME defaults to %q, ticketevent.DefaultDLQStream is %q", got, ticketevent.DefaultDLQStream)
	}
	for _, p := range checkChannels(load(t), dlqPrefix) {
		t.Error(p)
	}
}

// --- examples and produced messages against the schemas

// validator checks a value against the subset of JSON Schema the document
// uses, and fails on any other keyword rather than ignore it. strict also
// rejects object members no schema declares: what the code produces must be
// described.
type validator struct {
	d      document
	strict bool
}

var annotations = []string{"description", "examples", "title"}

func (v validator) validate(where string, s map[string]any, val any) []string {
	s = v.d.deref(s)
	if s == nil {
		return []string{where + ": no schema"}
	}
	var p []string
	for _, sub := range asList(s["allOf"]) {
		p = append(p, v.validate(where, asMap(sub), val)...)
	}
	for k, kv := range s {
		switch k {
		case "allOf", "properties", "required":
		case "type":
			if !hasType(kv, val) {
				p = append(p, fmt.Sprintf("%s: %#v is not of type %v", where, val, kv))
			}
		case "enum":
			if !slices.ContainsFunc(asList(kv), func(e any) bool { return reflect.DeepEqual(e, val) }) {
				p = append(p, fmt.Sprintf("%s: %#v is not one of %v", where, val, kv))
			}
		case "const":
			if !reflect.DeepEqual(kv, val) {
				p = append(p, fmt.Sprintf("%s: %#v is not %#v", where, val, kv))
			}
		case "pattern":
			if sv, ok := val.(string); ok && !regexp.MustCompile(asString(kv)).MatchString(sv) {
				p = append(p, fmt.Sprintf("%s: %q does not match %s", where, sv, kv))
			}
		case "maxLength":
			if sv, ok := val.(string); ok && float64(utf8.RuneCountInString(sv)) > kv.(float64) {
				p = append(p, fmt.Sprintf("%s: longer than %v", where, kv))
			}
		case "format":
			if sv, ok := val.(string); ok && kv == "date-time" {
				if _, err := time.Parse(time.RFC3339Nano, sv); err != nil {
					p = append(p, fmt.Sprintf("%s: %q is no date-time: %v", where, sv, err))
				}
			} else if kv != "date-time" {
				p = append(p, fmt.Sprintf("%s: format %v is not handled by this test", where, kv))
			}
		case "items":
			for i, e := range asList(val) {
				p = append(p, v.validate(fmt.Sprintf("%s[%d]", where, i), asMap(kv), e)...)
			}
		default:
			if !slices.Contains(annotations, k) {
				p = append(p, fmt.Sprintf("%s: keyword %q is not handled by this test", where, k))
			}
		}
	}
	obj, ok := val.(map[string]any)
	if !ok {
		return p
	}
	for _, r := range asList(s["required"]) {
		if _, ok := obj[asString(r)]; !ok {
			p = append(p, fmt.Sprintf("%s: required %v is missing", where, r))
		}
	}
	for name, ps := range asMap(s["properties"]) {
		if e, ok := obj[name]; ok {
			p = append(p, v.validate(where+"/"+name, asMap(ps), e)...)
		}
	}
	return p
}

// undeclared lists the members of obj that no schema along s declares,
// recursing into declared objects and arrays.
func (v validator) undeclared(where string, s map[string]any, val any) []string {
	var p []string
	switch x := val.(type) {
	case map[string]any:
		props := v.d.props(s)
		for _, name := range slices.Sorted(maps.Keys(x)) {
			if props[name] == nil {
				p = append(p, fmt.Sprintf("%s: %q is not described", where, name))
				continue
			}
			p = append(p, v.undeclared(where+"/"+name, props[name], x[name])...)
		}
	case []any:
		items := asMap(v.d.deref(s)["items"])
		for i, e := range x {
			p = append(p, v.undeclared(fmt.Sprintf("%s[%d]", where, i), items, e)...)
		}
	}
	return p
}

func (v validator) check(where string, s map[string]any, val any) []string {
	p := v.validate(where, s, val)
	if v.strict {
		p = append(p, v.undeclared(where, s, val)...)
	}
	return p
}

func hasType(t, val any) bool {
	switch t {
	case "object":
		_, ok := val.(map[string]any)
		return ok
	case "array":
		_, ok := val.([]any)
		return ok
	case "string":
		_, ok := val.(string)
		return ok
	case "boolean":
		_, ok := val.(bool)
		return ok
	case "number":
		_, ok := val.(float64)
		return ok
	case "integer":
		f, ok := val.(float64)
		return ok && f == float64(int64(f))
	}
	return false
}

func checkExamples(d document) []string {
	var p []string
	v := validator{d: d, strict: true}
	for _, m := range []string{"TicketChanged", "DeadLetter"} {
		msg := d.at("#/components/messages/" + m)
		examples := asList(msg["examples"])
		if len(examples) == 0 {
			p = append(p, m+": no examples")
		}
		for _, e := range examples {
			ex := asMap(e)
			where := fmt.Sprintf("%s example %v", m, ex["name"])
			p = append(p, v.check(where+" headers", asMap(msg["headers"]), ex["headers"])...)
			p = append(p, v.check(where+" payload", asMap(msg["payload"]), ex["payload"])...)
			body, err := json.Marshal(ex["payload"])
			if err != nil {
				p = append(p, fmt.Sprintf("%s: %v", where, err))
				continue
			}
			ct := asString(asMap(ex["headers"])[ticketevent.HeaderContentType])
			if _, err := ticketevent.Unmarshal(ct, body); err != nil {
				p = append(p, fmt.Sprintf("%s: ticketevent.Unmarshal rejects it: %v", where, err))
			}
		}
	}
	return p
}

func TestExamplesAreValid(t *testing.T) {
	t.Parallel()
	for _, p := range checkExamples(load(t)) {
		t.Error(p)
	}
}

// The messages the code writes, with every field set, are what the
// document describes: names (proto names, not camelCase), int64 as strings,
// timestamps, headers.
func TestProducedMessagesMatchSchema(t *testing.T) {
	t.Parallel()
	d := load(t)
	v := validator{d: d, strict: true}
	at := time.Date(2026, 11, 26, 10, 0, 0, 123456000, time.UTC)
	prev := ticket.Ticket{ID: "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11", Title: "a", Description: "d", Status: "open",
		Priority: "low", Assignee: "alice", Reporter: "bob", Tags: []string{"x"}, Version: 1, CreatedAt: at, UpdatedAt: at}
	next := prev
	next.Title, next.Description, next.Status, next.Priority = "b", "e", "in_progress", "urgent"
	next.Assignee, next.Reporter, next.Tags, next.Version, next.UpdatedAt = "carol", "dave", []string{"x", "y"}, 2, at.Add(time.Second)
	meta := ticketevent.Meta{EventID: "01936f4f-0c2a-7d11-8e3b-5a9c4d2e1f00", Actor: "bob", CorrelationID: "r1", OccurredAt: next.UpdatedAt}
	events := map[string]*eventsv1.TicketChanged{
		"created": ticketevent.New(meta, ticketevent.Created, nil, &prev, 1),
		"updated": ticketevent.New(meta, ticketevent.Updated, &prev, &next, 2),
		"deleted": ticketevent.New(meta, ticketevent.Deleted, &next, nil, 3),
	}
	// Every field of the proto is set in the update, so every name is seen.
	upd := events["updated"].ProtoReflect()
	fields := upd.Descriptor().Fields()
	for i := range fields.Len() {
		if !upd.Has(fields.Get(i)) {
			t.Fatalf("the update event leaves %s unset", fields.Get(i).Name())
		}
	}
	payload := asMap(d.at("#/components/messages/TicketChanged")["payload"])
	headers := asMap(d.at("#/components/messages/TicketChanged")["headers"])
	for _, name := range slices.Sorted(maps.Keys(events)) {
		ev := events[name]
		b, err := ticketevent.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var body any
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatal(err)
		}
		for _, p := range v.check(name+" payload", payload, body) {
			t.Error(p)
		}
		h := ticketevent.Headers(ev, "/ticketsys/command")
		h[ticketevent.HeaderTraceparent] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		h["Nats-Expected-Stream"] = ticketevent.DefaultStream // the relay's jetstream.WithExpectStream
		hv := map[string]any{}
		for k, x := range h {
			hv[k] = x
		}
		for _, p := range v.check(name+" headers", headers, hv) {
			t.Error(p)
		}
	}
}

// --- each check can fail

// TestChecksCatchBreakage breaks the document in the ways the checks are
// for, and expects each to be reported.
func TestChecksCatchBreakage(t *testing.T) {
	t.Parallel()
	consts := constants(t, "Header")
	reasons := dlqReasons(t)
	checks := map[string]func(document) []string{
		"payload":  checkPayload,
		"ticket":   checkTicketValues,
		"headers":  func(d document) []string { return checkHeaders(d, consts, reasons) },
		"channels": func(d document) []string { return checkChannels(d, ticketevent.DefaultDLQPrefix) },
		"examples": checkExamples,
	}
	cases := []struct {
		name, check, old, new string
	}{
		{"field missing", "payload", "        correlation_id:\n          type: string\n", "        correlation_idx:\n          type: string\n"},
		{"camelCase name", "payload", "        event_id:\n", "        eventId:\n"},
		{"extra property", "payload", "        id:\n          type: string\n        title:\n", "        watchers:\n          type: string\n        id:\n          type: string\n        title:\n"},
		{"nested field missing", "payload", "        reporter:\n          type: string\n        tags:\n", "        tags:\n"},
		{"int64 as integer", "payload", "    Int64:\n      type: string\n", "    Int64:\n      type: integer\n"},
		{"timestamp not date-time", "payload", "    Timestamp:\n      type: string\n      format: date-time\n", "    Timestamp:\n      type: string\n"},
		{"enum value missing", "payload", "enum: [CREATED, UPDATED, DELETED]", "enum: [CREATED, UPDATED]"},
		{"enum zero value listed", "payload", "enum: [CREATED, UPDATED, DELETED]", "enum: [CHANGE_UNSPECIFIED, CREATED, UPDATED, DELETED]"},
		{"status value unknown", "ticket", "enum: [open, in_progress, resolved, closed]", "enum: [open, in_progress, done, closed]"},
		{"changed field missing", "ticket", "enum: [title, description, status, priority, assignee, reporter, tags]", "enum: [title, description]"},
		{"ce header missing", "headers", "        ce-time:\n", "        ce-timestamp:\n"},
		{"traceparent missing", "headers", "        traceparent:\n", "        trace-parent:\n"},
		{"dlq header missing", "headers", "            dlq-consumer:\n", "            dlq-consumers:\n"},
		{"dlq header optional", "headers", "            - dlq-time\n", ""},
		{"msg id missing", "headers", "            Nats-Msg-Id:\n              type: string\n              description: |\n", "            Nats-Msg-ID:\n              type: string\n              description: |\n"},
		{"dlq reason missing", "headers", "enum: [undecodable, exhausted]", "enum: [undecodable]"},
		{"ce-type wrong", "headers", "const: tickets.ticket.changed.v1", "const: tickets.ticket.changed.v2"},
		{"events address", "channels", "address: tickets.changed.{ticketId}", "address: ticket.changed.{ticketId}"},
		{"dlq address", "channels", "address: tickets.dlq.{ticketId}", "address: tickets.deadletter.{ticketId}"},
		{"dlq parameter", "channels", "    parameters:\n      ticketId:\n        description: The ticket's id, or", "    parameters:\n      id:\n        description: The ticket's id, or"},
		{"example enum", "examples", "change: DELETED", "change: DESTROYED"},
		{"example int64", "examples", "version: '3'", "version: 3.5"},
		{"example header", "examples", "dlq-reason: exhausted", "dlq-reason: bored"},
	}
	raw := asyncapi.Tickets()
	for _, c := range cases {
		if !bytes.Contains(raw, []byte(c.old)) {
			t.Errorf("%s: tickets.yaml no longer contains %q; update the case", c.name, c.old)
			continue
		}
		d, err := parse(bytes.Replace(raw, []byte(c.old), []byte(c.new), 1))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if p := checks[c.check](d); len(p) == 0 {
			t.Errorf("%s: check %s reports nothing", c.name, c.check)
		} else {
			t.Logf("%s: %s", c.name, p[0])
		}
	}
}
