package testinfra

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// selfTestMigrator returns a Migrator under a Name of its own (so concurrent runs of these tests do not
// drop each other's templates) that counts its runs, and drops its templates when the test ends.
func selfTestMigrator(t *testing.T) (Migrator, *atomic.Int32) {
	t.Helper()
	var runs atomic.Int32
	m := Migrator{
		Name:        strings.ToLower(UniqueName(t, "selftest")),
		Fingerprint: "v1",
		Migrate: func(ctx context.Context, databaseURL string) error {
			runs.Add(1)
			conn, err := pgx.Connect(ctx, databaseURL)
			if err != nil {
				return err
			}
			defer conn.Close(context.Background())
			_, err = conn.Exec(ctx, `CREATE TABLE items (id int PRIMARY KEY, note text NOT NULL);
				INSERT INTO items VALUES (1, 'seed')`)
			return err
		},
	}
	admin := PostgresURL(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, db := range databasesWithPrefix(t, admin, tplPrefix+m.Name+"_") {
			mustExec(t, admin, "ALTER DATABASE "+ident(db)+" IS_TEMPLATE false")
			if err := dropDatabase(ctx, admin, db); err != nil {
				t.Error(err)
			}
		}
	})
	return m, &runs
}

func databasesWithPrefix(t testing.TB, admin, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1", prefix)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func mustExec(t testing.TB, dbURL, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func dbName(t testing.TB, dbURL string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}

func TestNewDatabaseParallelAndDropped(t *testing.T) {
	t.Parallel()
	m, runs := selfTestMigrator(t)
	admin := PostgresURL(t)
	var mu sync.Mutex
	var names []string
	var leftOpen *pgx.Conn
	t.Run("group", func(t *testing.T) {
		for i := range 2 {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				dbURL := NewDatabase(t, m)
				name := dbName(t, dbURL)
				mu.Lock()
				names = append(names, name)
				mu.Unlock()
				if !strings.HasPrefix(name, testPrefix+m.Name+"_") {
					t.Errorf("database %q", name)
				}
				// Migrated, and the test's own: a row written here is not in the other database.
				mustExec(t, dbURL, "INSERT INTO items VALUES ($1, 'mine')", 100+i)
				ctx := context.Background()
				conn, err := pgx.Connect(ctx, dbURL)
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					defer conn.Close(ctx)
				} else {
					// Left open across the test's end, as a forgotten pool would be: the drop must not
					// wait for it.
					mu.Lock()
					leftOpen = conn
					mu.Unlock()
				}
				var n int
				if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 2 {
					t.Errorf("items: %d, %v", n, err)
				}
			})
		}
	})
	if len(names) != 2 || names[0] == names[1] {
		t.Fatalf("databases %v", names)
	}
	if leftOpen == nil || leftOpen.Ping(context.Background()) == nil {
		t.Error("the connection left open still works after its database was dropped")
	}
	if leftOpen != nil {
		leftOpen.Close(context.Background())
	}
	if left := databasesWithPrefix(t, admin, testPrefix+m.Name+"_"); len(left) != 0 {
		t.Errorf("not dropped: %v", left)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("migrations ran %d times, want 1", n)
	}
	// The template is a real template nobody can connect to.
	var isTemplate, allowConn bool
	conn, err := pgx.Connect(context.Background(), admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(context.Background(), "SELECT datistemplate, datallowconn FROM pg_database WHERE datname = $1",
		templateName(m)).Scan(&isTemplate, &allowConn); err != nil {
		t.Fatal(err)
	}
	if !isTemplate || allowConn {
		t.Errorf("template: datistemplate=%v datallowconn=%v", isTemplate, allowConn)
	}
}

// A second test process finds the template on the server and does not migrate again; several processes
// building at once migrate once.
func TestTemplateSharedAcrossProcesses(t *testing.T) {
	t.Parallel()
	m, runs := selfTestMigrator(t)
	admin := PostgresURL(t)
	ctx := context.Background()

	// "Processes" racing: buildTemplate without the in-process cache, each on its own connection. The
	// migration also leaves a connection open, which must not stop the template from being sealed.
	leaky := m
	var leaked []*pgx.Conn
	var leakMu sync.Mutex
	leaky.Migrate = func(ctx context.Context, databaseURL string) error {
		if err := m.Migrate(ctx, databaseURL); err != nil {
			return err
		}
		c, err := pgx.Connect(ctx, databaseURL)
		if err != nil {
			return err
		}
		leakMu.Lock()
		leaked = append(leaked, c)
		leakMu.Unlock()
		return nil
	}
	t.Cleanup(func() {
		for _, c := range leaked {
			c.Close(context.Background())
		}
	})
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = buildTemplate(ctx, admin, templateName(m), leaky) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("migrations ran %d times, want 1", n)
	}
	if left := databasesWithPrefix(t, admin, buildPrefix+m.Name+"_"); len(left) != 0 {
		t.Errorf("build databases left: %v", left)
	}

	// A fresh process (empty cache) reuses the template.
	templatesMu.Lock()
	delete(templates, admin+"\x00"+templateName(m))
	templatesMu.Unlock()
	dbURL := NewDatabase(t, m)
	mustExec(t, dbURL, "SELECT note FROM items WHERE id = 1")
	if n := runs.Load(); n != 1 {
		t.Errorf("migrations ran %d times, want 1", n)
	}
}

// New migrations under the same Name replace the old template, and a process still holding the old one
// in its cache rebuilds it when it finds it gone.
func TestOutdatedTemplateDropped(t *testing.T) {
	t.Parallel()
	m1, runs := selfTestMigrator(t)
	admin := PostgresURL(t)
	NewDatabase(t, m1)
	m2 := m1
	m2.Fingerprint = "v2"
	NewDatabase(t, m2)
	got := databasesWithPrefix(t, admin, tplPrefix+m1.Name+"_")
	if len(got) != 1 || got[0] != templateName(m2) {
		t.Errorf("templates %v, want only %s", got, templateName(m2))
	}
	NewDatabase(t, m1) // cached as ready, but dropped on the server: rebuilt
	if n := runs.Load(); n != 3 {
		t.Errorf("migrations ran %d times, want 3", n)
	}
}

func TestMigrationFailure(t *testing.T) {
	t.Parallel()
	m, _ := selfTestMigrator(t)
	m.Migrate = func(context.Context, string) error { return errors.New("syntax error at 007_bad.sql") }
	admin := PostgresURL(t)
	ctx := context.Background()
	for range 2 {
		_, _, err := newDatabase(ctx, admin, m)
		if err == nil || !strings.Contains(err.Error(), "migrations failed: syntax error at 007_bad.sql") {
			t.Fatalf("got %v", err)
		}
	}
	if left := databasesWithPrefix(t, admin, "testinfra_"); func() bool {
		for _, db := range left {
			if strings.Contains(db, m.Name) {
				return true
			}
		}
		return false
	}() {
		t.Errorf("databases left: %v", left)
	}
}

func TestSweepStale(t *testing.T) {
	t.Parallel()
	admin := PostgresURL(t)
	old := fmt.Sprintf("%sselftest_%s_zzzz", testPrefix, strconv.FormatInt(time.Now().Add(-7*time.Hour).Unix(), 36))
	young := newName(testPrefix, "selftest")
	for _, db := range []string{old, young} {
		mustExec(t, admin, "CREATE DATABASE "+ident(db))
	}
	t.Cleanup(func() { _ = dropDatabase(context.Background(), admin, young) })
	sweptMu.Lock()
	delete(swept, admin)
	sweptMu.Unlock()
	sweepStale(context.Background(), admin)
	got := databasesWithPrefix(t, admin, testPrefix+"selftest_")
	for _, db := range got {
		if db == old {
			t.Errorf("stale %s not dropped", old)
		}
	}
	if !strings.Contains(strings.Join(got, " "), young) {
		t.Errorf("young %s dropped", young)
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	m := Migrator{Name: "Tickets-Service with a very long name indeed", Fingerprint: "abc"}
	tpl := templateName(m)
	if len(tpl) > 63 || tpl != strings.ToLower(tpl) || !strings.HasPrefix(tpl, "testinfra_tpl_tickets_service_with_a_v_") {
		t.Errorf("template name %q", tpl)
	}
	n := newName(testPrefix, m.Name)
	if len(n) > 63 {
		t.Errorf("name %q too long", n)
	}
	if ts, ok := nameTime(n); !ok || time.Since(ts) > time.Minute {
		t.Errorf("nameTime(%q) = %v, %v", n, ts, ok)
	}
	if _, err := withDatabase("host=127.0.0.1 dbname=postgres", "x"); err == nil {
		t.Error("key=value DSN accepted")
	}
	if got, _ := withDatabase("postgres://u:p@h:5/postgres?sslmode=disable", "db1"); got != "postgres://u:p@h:5/db1?sslmode=disable" {
		t.Errorf("withDatabase: %s", got)
	}
}

// BenchmarkNewDatabase measures a warm NewDatabase (template already built) and the drop in its cleanup.
func BenchmarkNewDatabase(b *testing.B) {
	m := Migrator{Name: "selftest_bench", Fingerprint: "v1", Migrate: func(ctx context.Context, u string) error {
		mustExec(b, u, `CREATE TABLE items (id int PRIMARY KEY, note text NOT NULL); CREATE INDEX ON items (note)`)
		return nil
	}}
	admin := PostgresURL(b)
	ctx := context.Background()
	b.Cleanup(func() {
		mustExec(b, admin, "ALTER DATABASE "+ident(templateName(m))+" IS_TEMPLATE false")
		_ = dropDatabase(ctx, admin, templateName(m))
	})
	if _, name, err := newDatabase(ctx, admin, m); err != nil { // builds the template: not measured
		b.Fatal(err)
	} else if err := dropDatabase(ctx, admin, name); err != nil {
		b.Fatal(err)
	}
	var create, drop time.Duration
	for b.Loop() {
		start := time.Now()
		_, name, err := newDatabase(ctx, admin, m)
		if err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if err := dropDatabase(ctx, admin, name); err != nil {
			b.Fatal(err)
		}
		create += mid.Sub(start)
		drop += time.Since(mid)
	}
	b.ReportMetric(create.Seconds()*1000/float64(b.N), "ms-create/op")
	b.ReportMetric(drop.Seconds()*1000/float64(b.N), "ms-drop/op")
}
