package main

import (
	"context"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/ticketsys/ticketsys/pkg/ticketcache"
)

// auditBatch is how many keys are read per pipeline and per read-only transaction.
const auditBatch = 200

// Kinds and verdicts of audited keys.
const (
	kindTicket = "ticket"
	kindList   = "list"

	verdictFresh      = "fresh"
	verdictStale      = "stale"
	verdictSuperseded = "superseded"
	verdictSkipped    = "skipped"
)

// finding is the audit's verdict on one key.
type finding struct {
	Key     string `json:"key"`
	Kind    string `json:"kind"`
	Verdict string `json:"verdict"`
	Reason  string `json:"reason,omitempty"`
}

// auditor compares the cache with Postgres.
type auditor struct {
	rdb     redis.UniversalClient
	db      *pgx.Conn
	keys    ticketcache.Keys
	timeout time.Duration
	// progress is where the keys-checked line goes: stderr when it is a terminal, else nil.
	progress io.Writer
}

type checkOptions struct {
	prefix  string
	json    bool
	grace   time.Duration
	timeout time.Duration
}

func (a *app) cacheCmd() *cobra.Command {
	cmd := groupCmd("cache", "Audit the Redis cache",
		`Look at the Redis cache the query service reads and the cache-invalidator keeps fresh.`)
	cmd.AddCommand(a.cacheCheckCmd())
	return cmd
}

func (a *app) cacheCheckCmd() *cobra.Command {
	var o checkOptions
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Compare every cached ticket and list page with Postgres and list what is stale",
		Long: `Audit the cache against Postgres, safe to run at any time: keys are found with SCAN
(never KEYS) and Postgres is read in read-only transactions.

  ticket:{id}        must be the row's API JSON, or a tombstone of a deleted row with the
                     row's version.
  tickets:all:...    a page of an older generation than tickets:gen:{status}:{assignee} is
                     never served again: "superseded", not stale. A current first page
                     (cursor "first") must equal its query run now. Pages behind a cursor
                     are skipped (cursor pages not audited).

Entries that look stale are checked once more after --grace, so that events still on
their way to the cache-invalidator are not reported.

Exit codes: 0 nothing stale, 3 stale entries found (each listed with its key and why),
1 an error (Redis or Postgres unreachable), 2 a usage error.
Environment: REDIS_URL, REDIS_CLUSTER, DATABASE_URL (use the primary: a lagging replica
makes fresh entries look stale).`,
		Example: `  ticketctl cache check
  ticketctl cache check --json | jq '.stale_entries[].key'
  ticketctl cache check --prefix staging: --grace 0`,
		Args: cobra.NoArgs,
		RunE: a.action(func(cmd *cobra.Command, _ []string) error {
			switch {
			case o.timeout <= 0:
				return usagef("--timeout must be positive, got %s", o.timeout)
			case o.grace < 0:
				return usagef("--grace must not be negative, got %s", o.grace)
			}
			return a.cacheCheck(cmd.Context(), o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.prefix, "prefix", "", "key prefix the services use (empty in production)")
	f.BoolVar(&o.json, "json", false, "print the report as one JSON object")
	f.DurationVar(&o.grace, "grace", 2*time.Second, "wait this long before checking stale-looking entries again (0: report at once)")
	f.DurationVar(&o.timeout, "timeout", defaultTimeout, "limit for connecting and for each batch of reads")
	return cmd
}

func (a *app) cacheCheck(ctx context.Context, o checkOptions) error {
	rdb, err := a.connectRedis(ctx, o.timeout)
	if err != nil {
		return err
	}
	defer rdb.Close()
	db, err := a.connectPostgres(ctx, o.timeout)
	if err != nil {
		return err
	}
	defer db.Close(context.Background())
	au := &auditor{rdb: rdb, db: db, keys: ticketcache.Keys{Prefix: o.prefix}, timeout: o.timeout}
	if a.isTerminal(a.stderr) {
		au.progress = a.stderr
	}

	ticketKeys, err := scanKeys(ctx, rdb, globEscape(au.keys.Ticket(""))+"*")
	if err != nil {
		return err
	}
	listKeys, err := scanKeys(ctx, rdb, globEscape(au.keys.ListPrefix())+"*")
	if err != nil {
		return err
	}
	found, err := au.check(ctx, ticketKeys, listKeys)
	if err != nil {
		return err
	}
	if stale := staleKeys(found); len(stale) > 0 && o.grace > 0 {
		found, err = au.recheck(ctx, found, stale, o.grace, a)
		if err != nil {
			return err
		}
	}
	r := newReport(found)
	if err := r.print(a, o.json); err != nil {
		return err
	}
	if r.Stale > 0 {
		return codeError{code: exitStale, msg: plural(r.Stale, "stale cache entry", "stale cache entries")}
	}
	return nil
}

func (au *auditor) check(ctx context.Context, ticketKeys, listKeys []string) ([]finding, error) {
	p := newProgress(au.progress, "checked", len(ticketKeys)+len(listKeys))
	defer p.done() // wiped before anything else is printed, errors included
	tf, err := au.checkTickets(ctx, ticketKeys, p)
	if err != nil {
		return nil, err
	}
	lf, err := au.checkLists(ctx, listKeys, p)
	if err != nil {
		return nil, err
	}
	return append(tf, lf...), nil
}

// recheck audits the stale-looking keys again after grace and replaces their findings; a key
// that is gone by then is no longer served and drops out of the report.
func (au *auditor) recheck(ctx context.Context, found []finding, stale map[string]string, grace time.Duration, a *app) ([]finding, error) {
	a.infof("%s look stale; checking again in %s (--grace)", plural(len(stale), "entry", "entries"), grace)
	if err := a.pause(ctx, grace); err != nil {
		return nil, err
	}
	var tk, lk []string
	for k, kind := range stale {
		if kind == kindTicket {
			tk = append(tk, k)
		} else {
			lk = append(lk, k)
		}
	}
	again, err := au.check(ctx, tk, lk)
	if err != nil {
		return nil, err
	}
	out := make([]finding, 0, len(found))
	for _, f := range found {
		if _, ok := stale[f.Key]; !ok {
			out = append(out, f)
		}
	}
	return append(out, again...), nil
}

func staleKeys(found []finding) map[string]string {
	out := map[string]string{}
	for _, f := range found {
		if f.Verdict == verdictStale {
			out[f.Key] = f.Kind
		}
	}
	return out
}
