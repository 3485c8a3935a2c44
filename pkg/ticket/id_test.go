package ticket_test

import (
	"testing"

	"github.com/ticketsys/ticketsys/pkg/ticket"
)

func TestParseID(t *testing.T) {
	t.Parallel()
	if id, ok := ticket.ParseID("01936F4E-8A1C-7C3E-9A57-3F1D2B9C0E11"); !ok || id != "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11" {
		t.Fatalf("upper case: %q %v", id, ok)
	}
	for _, s := range []string{"", "x", "01936f4e8a1c7c3e9a573f1d2b9c0e11", "{01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e}",
		"urn:uuid:01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11", "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e1g"} {
		if _, ok := ticket.ParseID(s); ok {
			t.Errorf("%q accepted", s)
		}
	}
}
