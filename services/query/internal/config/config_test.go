package config_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/pgpool"
	"github.com/ticketsys/ticketsys/services/query/internal/config"
)

const secret = "config-test-secret-that-is-32-bytes-or-more"

func load(t *testing.T, env map[string]string) (config.Config, error) {
	t.Helper()
	return config.Load(func(k string) string { return env[k] })
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, map[string]string{"AUTH_JWT_SECRET": secret})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != ":8082" || cfg.ReadURL() != pgpool.DefaultURL ||
		cfg.Redis.URL != "redis://127.0.0.1:6379/0" || cfg.Redis.Cluster || cfg.Cache.TTL() != 600*time.Second ||
		cfg.Cache.KeyPrefix != "" || cfg.RedisTimeout != 100*time.Millisecond || cfg.RedisRetryInterval != time.Second {
		t.Fatalf("defaults %+v", cfg)
	}
}

func TestReadDatabaseURLFallsBackToDatabaseURL(t *testing.T) {
	t.Parallel()
	primary := "postgres://app@db:5432/tickets"
	replica := "postgres://reader@replica:5432/tickets"
	cfg, _ := load(t, map[string]string{"AUTH_JWT_SECRET": secret, "DATABASE_URL": primary})
	if cfg.ReadURL() != primary {
		t.Fatalf("got %s, want DATABASE_URL", cfg.ReadDatabaseURL)
	}
	cfg, _ = load(t, map[string]string{"AUTH_JWT_SECRET": secret, "DATABASE_URL": primary, "READ_DATABASE_URL": replica})
	if cfg.ReadURL() != replica {
		t.Fatalf("got %s, want READ_DATABASE_URL", cfg.ReadDatabaseURL)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	t.Parallel()
	cases := map[string]map[string]string{
		"AUTH_JWT_SECRET":      {},
		"READ_DATABASE_URL":    {"READ_DATABASE_URL": "postgres://%zz"},
		"REDIS_URL":            {"REDIS_URL": "http://user:hunter2@redis:6379"},
		"REDIS_CLUSTER":        {"REDIS_CLUSTER": "maybe"},
		"CACHE_TTL_SECONDS":    {"CACHE_TTL_SECONDS": "0"},
		"REDIS_TIMEOUT":        {"REDIS_TIMEOUT": "fast"},
		"REDIS_RETRY_INTERVAL": {"REDIS_RETRY_INTERVAL": "-1s"},
		"SHUTDOWN_TIMEOUT":     {"SHUTDOWN_TIMEOUT": "0s"},
		"CURSOR_SECRET":        {"CURSOR_SECRET": "short"},
		"CACHE_KEY_PREFIX":     {"CACHE_KEY_PREFIX": "a*b"},
		"HTTP_ADDR":            {"HTTP_ADDR": "8082"},
	}
	for want, env := range cases {
		if want != "AUTH_JWT_SECRET" {
			env["AUTH_JWT_SECRET"] = secret
		}
		_, err := load(t, env)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") ||
			strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: got %v, want one line naming it", want, err)
		}
	}
	// Cluster URLs are parsed as cluster URLs.
	if _, err := load(t, map[string]string{"AUTH_JWT_SECRET": secret, "REDIS_CLUSTER": "true",
		"REDIS_URL": "rediss://cfg.example.cache.amazonaws.com:6379?addr=node2:6379"}); err != nil {
		t.Fatalf("cluster URL: %v", err)
	}
}

func TestCursorKey(t *testing.T) {
	t.Parallel()
	a, _ := load(t, map[string]string{"AUTH_JWT_SECRET": secret})
	b, _ := load(t, map[string]string{"AUTH_JWT_SECRET": secret})
	if !bytes.Equal(a.CursorKey(), b.CursorKey()) {
		t.Fatal("instances sharing AUTH_JWT_SECRET derive different cursor keys")
	}
	if bytes.Equal(a.CursorKey(), []byte(secret)) {
		t.Fatal("the cursor key is the token secret itself")
	}
	own := strings.Repeat("c", 32)
	c, _ := load(t, map[string]string{"AUTH_JWT_SECRET": secret, "CURSOR_SECRET": own})
	if string(c.CursorKey()) != own {
		t.Fatal("CURSOR_SECRET ignored")
	}
	d, _ := load(t, map[string]string{"AUTH_DISABLED": "true"})
	if k1, k2 := d.CursorKey(), d.CursorKey(); len(k1) != 32 || bytes.Equal(k1, k2) {
		t.Fatal("without a shared secret the key should be random")
	}
}
