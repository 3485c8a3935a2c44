package config_test

import (
	"bytes"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/pgpool"
	"github.com/ticketsys/ticketsys/services/query/internal/config"
)

const (
	secret       = "config-test-secret-that-is-32-bytes-or-more"
	cursorSecret = "config-test-cursor-key-of-32-bytes-or-more"
)

// load reads env over a production setup's required keys, unless env says
// otherwise ("" unsets one).
func load(t *testing.T, env map[string]string) (config.Config, error) {
	t.Helper()
	full := map[string]string{"AUTH_JWT_SECRET": secret, "CURSOR_SECRET": cursorSecret}
	for k, v := range env {
		full[k] = v
	}
	return config.Load(func(k string) string { return full[k] })
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
		"AUTH_JWT_SECRET":      {"AUTH_JWT_SECRET": ""},
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

func TestCursorKeys(t *testing.T) {
	t.Parallel()
	other := strings.Repeat("o", 32)
	c, err := load(t, map[string]string{"CURSOR_SECRET": cursorSecret + "," + other})
	if err != nil {
		t.Fatal(err)
	}
	if keys := c.CursorKeys(); len(keys) != 2 || string(keys[0]) != cursorSecret || string(keys[1]) != other {
		t.Fatalf("CURSOR_SECRET list: %q", keys)
	}
	if _, err := load(t, map[string]string{"CURSOR_SECRET": cursorSecret + ",short"}); err == nil ||
		!strings.Contains(err.Error(), "CURSOR_SECRET") || strings.Contains(err.Error(), "short") {
		t.Fatalf("a short key in the list: %v", err)
	}
	d, err := load(t, map[string]string{"ENV": "development", "CURSOR_SECRET": ""})
	if err != nil {
		t.Fatal(err)
	}
	if k1, k2 := d.CursorKeys(), d.CursorKeys(); len(k1) != 1 || len(k1[0]) != 32 || bytes.Equal(k1[0], k2[0]) {
		t.Fatal("in development without CURSOR_SECRET the key should be random")
	}
}

// What is only safe on a developer's machine is refused unless ENV says
// development: a missing cursor key (replicas would refuse each other's
// cursors), the published development secret, auth switched off.
func TestProductionRefusesDevelopmentSettings(t *testing.T) {
	t.Parallel()
	for name, env := range map[string]map[string]string{
		"CURSOR_SECRET":  {"CURSOR_SECRET": ""},
		"dev secret":     {"AUTH_JWT_SECRET": auth.DevSecret},
		"placeholder":    {"AUTH_JWT_SECRET": "CHANGE-ME-CHANGE-ME-CHANGE-ME-CHANGE-ME"},
		"AUTH_DISABLED":  {"AUTH_JWT_SECRET": "", "AUTH_DISABLED": "true"},
		"dev public key": {"AUTH_JWT_SECRET": "", "AUTH_PUBLIC_KEY_FILE": devPublicKey(t)},
		"ENV":            {"ENV": "staging"},
	} {
		if _, err := load(t, env); err == nil {
			t.Errorf("%s: accepted without ENV=development", name)
		}
		if name == "ENV" {
			continue
		}
		env["ENV"] = "development"
		if _, err := load(t, env); err != nil {
			t.Errorf("%s with ENV=development: %v", name, err)
		}
	}
}

func devPublicKey(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "../../../../deploy/dev-keys/public.pem")
}
