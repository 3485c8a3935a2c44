// Package ticketdb is the tickets database as every process sees it: the
// embedded migrations and the code that applies them, the columns of a
// ticket and the SQL of a list page. Both services, ticketctl and the tests
// go through here, so none of them spells the schema out again.
package ticketdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", which goose needs
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var embedded embed.FS

// Migrations returns the migration files, rooted at their folder.
func Migrations() fs.FS {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		panic(err) // the folder is embedded at build time; missing is a build bug
	}
	return sub
}

// Migrate applies every pending migration. A Postgres session lock makes
// concurrent callers (several instances starting at once) take turns.
func Migrate(ctx context.Context, databaseURL string, logger *slog.Logger) error {
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()

	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithSessionLocker(locker)}
	if logger != nil {
		opts = append(opts, goose.WithSlog(logger))
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, Migrations(), opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	if logger != nil {
		for _, r := range results {
			logger.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
		}
	}
	return nil
}

// Fingerprint changes whenever a migration file changes; tests key their
// template databases on it.
func Fingerprint() string {
	h := sha256.New()
	names, _ := fs.Glob(Migrations(), "*.sql")
	sort.Strings(names)
	for _, n := range names {
		b, _ := fs.ReadFile(Migrations(), n)
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
