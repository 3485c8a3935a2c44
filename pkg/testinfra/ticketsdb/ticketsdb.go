// Package ticketsdb gives a test a fresh database with the tickets schema
// (pkg/ticketdb's migrations), through testinfra's template databases.
package ticketsdb

import (
	"context"
	"testing"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticketdb"
)

// Migrator builds the tickets schema; its fingerprint follows the migrations.
var Migrator = testinfra.Migrator{
	Name:        "tickets",
	Fingerprint: ticketdb.Fingerprint(),
	Migrate: func(ctx context.Context, url string) error {
		return ticketdb.Migrate(ctx, url, nil)
	},
}

// New returns the URL of a migrated database of the test's own, dropped at
// cleanup.
func New(t testing.TB) string {
	t.Helper()
	return testinfra.NewDatabase(t, Migrator)
}
