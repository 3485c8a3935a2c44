package ticketapi

import "testing"

func TestNoneMatch(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		`"3"`: true, `W/"3"`: true, `*`: true, ` * `: true, `"1", "3"`: true, `"1",W/"3"`: true,
		``: false, `"4"`: false, `3`: false, `"3`: false, `W/3`: false, `"03"`: false, `"1", *`: false,
	}
	for h, want := range cases {
		if got := noneMatch(h, 3); got != want {
			t.Errorf("If-None-Match %q: %v, want %v", h, got, want)
		}
	}
}

func TestParseID(t *testing.T) {
	t.Parallel()
	if id, ok := parseID("01936F4E-8A1C-7C3E-9A57-3F1D2B9C0E11"); !ok || id != "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11" {
		t.Fatalf("upper case: %q %v", id, ok)
	}
	for _, s := range []string{"", "x", "01936f4e8a1c7c3e9a573f1d2b9c0e11", "{01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e}",
		"urn:uuid:01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11", "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e1g"} {
		if _, ok := parseID(s); ok {
			t.Errorf("%q accepted", s)
		}
	}
}
