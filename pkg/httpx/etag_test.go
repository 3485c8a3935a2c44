package httpx_test

import (
	"slices"
	"testing"

	"github.com/ticketsys/ticketsys/pkg/httpx"
)

func TestParseEntityTags(t *testing.T) {
	t.Parallel()
	cases := []struct {
		header string
		want   []httpx.EntityTag
		any    bool
	}{
		{`"3"`, []httpx.EntityTag{{Version: 3}}, false},
		{` * `, nil, true},
		{`"1", W/"3"`, []httpx.EntityTag{{Version: 1}, {Version: 3, Weak: true}}, false},
		{`"01"`, nil, false},
		{`"+1"`, nil, false},
		{`"0"`, nil, false},
		{`3`, nil, false},
		{`"3`, nil, false},
		{`W/3`, nil, false},
		{``, nil, false},
		{`"1", *`, []httpx.EntityTag{{Version: 1}}, false},
		{`"99999999999999999999"`, nil, false},
	}
	for _, tc := range cases {
		got, anyTag := httpx.ParseEntityTags(tc.header)
		if anyTag != tc.any || !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v %v, want %v %v", tc.header, got, anyTag, tc.want, tc.any)
		}
	}
	if httpx.ETag(42) != `"42"` {
		t.Fatalf("ETag(42) = %s", httpx.ETag(42))
	}
}
