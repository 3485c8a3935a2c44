package ticketapi

import (
	"errors"
	"strings"
	"testing"
)

func TestParseIfMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		header string
		nilPre bool
		holds  map[int64]bool
	}{
		{"", true, map[int64]bool{1: true, 9: true}},
		{"*", false, map[int64]bool{1: true, 9: true}},
		{`"3"`, false, map[int64]bool{3: true, 4: false}},
		{`"1", "3"`, false, map[int64]bool{1: true, 3: true, 2: false}},
		{`W/"3"`, false, map[int64]bool{3: false}},
		{`3`, false, map[int64]bool{3: false}},
		{`"x"`, false, map[int64]bool{1: false}},
		{`"-1"`, false, map[int64]bool{1: false}},
	}
	for _, tc := range cases {
		pre := parseIfMatch(tc.header)
		if (pre == nil) != tc.nilPre {
			t.Fatalf("%q: precondition %v", tc.header, pre)
		}
		for v, want := range tc.holds {
			if got := pre.Holds(v); got != want {
				t.Errorf("%q holds(%d) = %v, want %v", tc.header, v, got, want)
			}
		}
	}
}

func TestToPatchNormalises(t *testing.T) {
	t.Parallel()
	in, err := decodeInput("application/json; charset=utf-8", strings.NewReader(
		`{"title":"  Printer  ","assignee":null,"tags":[" a ","b"],"description":"ü`+strings.Repeat("x", 9999)+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	p, errs := in.toPatch(true)
	if len(errs) != 0 {
		t.Fatalf("errors %v", errs)
	}
	if *p.Title != "Printer" || *p.Assignee != "" || strings.Join(*p.Tags, ",") != "a,b" || p.Status != nil {
		t.Fatalf("patch %+v", p)
	}
	// 10,000 characters counts runes, not bytes.
	if n := len([]rune(*p.Description)); n != 10000 {
		t.Fatalf("description has %d runes", n)
	}
}

func TestDecodeInputStatuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		ct, body string
		status   int
	}{
		{"application/merge-patch+json", `{"title":"a"}`, 0},
		{"text/plain", `{"title":"a"}`, 415},
		{"application/json", `{"title":"a"} x`, 400},
		{"application/json", `null`, 400}, // JSON, but no object
		{"application/json", " \n{}", 0},
		{"application/json", "", 400},
		{"application/json", `"str"`, 400},
		{"application/json", `{"tags":"a"}`, 422},
		{"application/json", `{"nope":1}`, 422},
	}
	for _, tc := range cases {
		_, err := decodeInput(tc.ct, strings.NewReader(tc.body))
		got := 0
		var bad *errBadInput
		if errors.As(err, &bad) {
			got = bad.status
		} else if err != nil {
			t.Fatalf("%s: unexpected error type %T", tc.body, err)
		}
		if got != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.ct, tc.body, got, tc.status)
		}
	}
}
