package ticketdb

import (
	"fmt"

	"github.com/ticketsys/ticketsys/pkg/pgpool"
	"github.com/ticketsys/ticketsys/pkg/ticket"
)

// Wrap prefixes a store error with what was being done and, when Postgres
// did not answer, marks it ticket.ErrUnavailable, so the layers above tell an
// outage (503) from a bug (500) without knowing pgx. nil stays nil.
func Wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case pgpool.Unavailable(err):
		return fmt.Errorf("%s: %w: %w", op, ticket.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
