package ticketapi

import "testing"

func TestNoneMatch(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		`"3"`: true, `W/"3"`: true, `*`: true, ` * `: true, `"1", "3"`: true, `"1",W/"3"`: true,
		``: false, `"4"`: false, `3`: false, `"3`: false, `W/3`: false, `"03"`: false, `"1", *`: false, `"+3"`: false,
	}
	for h, want := range cases {
		if got := noneMatch(h, 3); got != want {
			t.Errorf("If-None-Match %q: %v, want %v", h, got, want)
		}
	}
}
