package chaos

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"net/url"
	"strings"
	"testing"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/ticketsys/ticketsys/pkg/auth/authtest"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/testinfra/ticketsdb"
)

const cursorSecret = "chaos-cursor-key-that-is-at-least-32-bytes"

// system is one scenario's world: a database of its own on the machine's
// Postgres, a redis-server and a nats-server of its own, a Toxiproxy proxy
// in front of each, and the services connected through the proxies. The
// suite itself (load, audits) talks to the dependencies directly.
type system struct {
	t     testing.TB
	dbURL string // direct, for the audits
	pool  *pgxpool.Pool
	redis *testinfra.RedisServer  // single-node form
	rc    *testinfra.RedisCluster // cluster form
	rdb   redis.UniversalClient
	nats  *testinfra.NATSCluster
	js    jetstream.JetStream

	pgProxy, redisProxy, natsProxy *toxiproxy.Proxy

	commands     []*testinfra.ServiceProcess
	queries      []*testinfra.ServiceProcess
	invalidators []*testinfra.ServiceProcess
	query        *testinfra.ServiceProcess // queries[0]
	invalidator  *testinfra.ServiceProcess // invalidators[0]
	token        string
	env          map[string]string // every service's environment
}

// systemOptions change the environment of one scenario's services.
type systemOptions struct {
	// cluster: a 3-node NATS cluster with the streams at R3 and a Redis
	// Cluster of 3 masters with a replica each, both reached directly
	// (their clients learn every node's address from the nodes
	// themselves, so a proxy in front would be bypassed).
	cluster    bool
	instances  int               // instances of each service (default 1)
	commands   int               // command service instances (default instances)
	env        map[string]string // for every service, over the defaults
	invalidEnv map[string]string // for the cache-invalidator only
}

func newSystem(t testing.TB, o systemOptions) *system {
	t.Helper()
	s := &system{t: t, dbURL: ticketsdb.New(t)}
	proxies := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	dbu, err := url.Parse(s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	s.pgProxy = startProxy(t, proxies, "postgres", dbu.Host)
	proxiedDB := *dbu
	proxiedDB.Host = s.pgProxy.Listen
	keys := authtest.NewKeys(t)
	s.token = keys.Token(t, "chaos", "tickets:read", "tickets:write")
	s.env = map[string]string{
		"DATABASE_URL":         proxiedDB.String(),
		"AUTH_PUBLIC_KEY_FILE": keys.PublicFile,
		"CURSOR_SECRET":        cursorSecret,
		"LOG_FORMAT":           "text",
		"LOG_LEVEL":            "info", // the "listening" line carries the address
		"SHUTDOWN_TIMEOUT":     "5s",
	}
	if o.cluster {
		s.nats = testinfra.StartNATSCluster(t, 3, testinfra.NATSClusterOptions{})
		s.rc = testinfra.StartRedisCluster(t, 3, 1)
		s.rdb = s.rc.Client(t)
		maps.Copy(s.env, map[string]string{
			"NATS_URL": s.nats.URL(), "STREAM_REPLICAS": "3", "DLQ_REPLICAS": "3",
			"REDIS_URL": s.rc.URL(), "REDIS_CLUSTER": "true",
		})
	} else {
		s.nats = testinfra.StartNATSCluster(t, 1, testinfra.NATSClusterOptions{})
		s.redis = testinfra.StartRedisServer(t)
		s.rdb = redis.NewClient(&redis.Options{Addr: s.redis.Addr()})
		t.Cleanup(func() { _ = s.rdb.Close() })
		natsu, err := url.Parse(s.nats.URL())
		if err != nil {
			t.Fatal(err)
		}
		s.redisProxy = startProxy(t, proxies, "redis", s.redis.Addr())
		s.natsProxy = startProxy(t, proxies, "nats", natsu.Host)
		s.env["REDIS_URL"] = "redis://" + s.redisProxy.Listen
		s.env["NATS_URL"] = "nats://" + s.natsProxy.Listen
	}
	maps.Copy(s.env, o.env)

	s.pool, err = pgxpool.New(context.Background(), s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.pool.Close)
	s.js = testinfra.JetStream(t, s.nats.URL())

	n := max(o.instances, 1)
	for range cmp.Or(o.commands, n) {
		s.commands = append(s.commands, s.start("command", nil))
	}
	for range n {
		s.queries = append(s.queries, s.start("query", nil))
		s.invalidators = append(s.invalidators, s.start("cache-invalidator", o.invalidEnv))
	}
	s.query, s.invalidator = s.queries[0], s.invalidators[0]
	return s
}

// start runs one service with the system's environment and extra over it.
func (s *system) start(name string, extra map[string]string) *testinfra.ServiceProcess {
	s.t.Helper()
	env := maps.Clone(s.env)
	maps.Copy(env, extra)
	p := testinfra.StartServiceProcess(s.t, name, binaries[name], env)
	p.WaitReady(s.t)
	return p
}

func startProxy(t testing.TB, server *toxiproxy.ApiServer, name, upstream string) *toxiproxy.Proxy {
	t.Helper()
	p := toxiproxy.NewProxy(server, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("toxiproxy %s: %v", name, err)
	}
	t.Cleanup(p.Stop)
	return p
}

// cut closes the proxy: open connections drop and new ones are refused,
// as when a dependency's host goes away. heal opens it on the same port.
func cut(p *toxiproxy.Proxy) { p.Stop() }

func heal(t testing.TB, p *toxiproxy.Proxy) {
	t.Helper()
	if err := p.Start(); err != nil && !errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
		t.Fatalf("toxiproxy %s: reopen: %v", p.Name, err)
	}
}

// addToxic adds a toxic given as Toxiproxy's JSON (its HTTP API's format).
func addToxic(t testing.TB, p *toxiproxy.Proxy, toxicJSON string) {
	t.Helper()
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(toxicJSON)); err != nil {
		t.Fatalf("toxiproxy %s: add %s: %v", p.Name, toxicJSON, err)
	}
}

func removeToxic(t testing.TB, p *toxiproxy.Proxy, name string) {
	t.Helper()
	if err := p.Toxics.RemoveToxic(context.Background(), name); err != nil {
		t.Fatalf("toxiproxy %s: remove %s: %v", p.Name, name, err)
	}
}

// relayLeader is the command instance whose relay holds the lock, by its
// ticketsys_outbox_relay_active gauge.
func (s *system) relayLeader() (int, bool) {
	for i, p := range s.commands {
		if v, ok := scrapeGauge(p.URL(), "ticketsys_outbox_relay_active"); ok && v == 1 {
			return i, true
		}
	}
	return 0, false
}
