package poolmetrics_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/poolmetrics"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

func TestCollectorsReportRealPools(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(t.Context(), testinfra.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := pool.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	opts, err := redis.ParseURL(testinfra.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	if err := rdb.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(poolmetrics.NewPgx(pool, "primary"), poolmetrics.NewRedis(rdb))
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP pgx_pool_acquires_total Connections acquired from the pool.
# TYPE pgx_pool_acquires_total counter
pgx_pool_acquires_total{pool="primary"} 1
`), "pgx_pool_acquires_total"); err != nil {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(reg, "redis_pool_total_conns", "pgx_pool_total_conns")
	if err != nil || n != 2 {
		t.Fatalf("%d series (%v)", n, err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP redis_pool_total_conns Connections open.
# TYPE redis_pool_total_conns gauge
redis_pool_total_conns 1
`), "redis_pool_total_conns"); err != nil {
		t.Fatal(err)
	}
}
