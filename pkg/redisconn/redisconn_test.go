package redisconn_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/redisconn"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

func TestOpenTalksToRedis(t *testing.T) {
	t.Parallel()
	rdb, err := redisconn.Open(testinfra.RedisURL(t), false,
		redisconn.Tuning{ReadTimeout: time.Second, MaxRetries: -1, ClientName: "redisconn-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	name, err := rdb.Do(t.Context(), "CLIENT", "GETNAME").Text()
	if err != nil || name != "redisconn-test" {
		t.Fatalf("client name %q (%v)", name, err)
	}
	c := rdb.(*redis.Client)
	// go-redis stores "never retry" (-1) as 0, against its default of 3.
	if o := c.Options(); o.ReadTimeout != time.Second || o.MaxRetries != 0 {
		t.Fatalf("tuning not applied: read %v retries %d", o.ReadTimeout, o.MaxRetries)
	}
}

func TestBadURLsAreOneLineWithoutTheURL(t *testing.T) {
	t.Parallel()
	for _, cluster := range []bool{false, true} {
		for _, url := range []string{"http://user:s3cret@host:6379", "redis://user:s3cret@host:notaport"} {
			err := redisconn.Validate(url, cluster)
			if !errors.Is(err, redisconn.ErrBadURL) || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("Validate(%q, %v) = %v", url, cluster, err)
			}
			if _, err := redisconn.Open(url, cluster, redisconn.Tuning{}); !errors.Is(err, redisconn.ErrBadURL) {
				t.Fatalf("Open(%q, %v) = %v", url, cluster, err)
			}
		}
	}
	if err := redisconn.Validate("rediss://cache.example:6379/0", false); err != nil {
		t.Fatal(err)
	}
	if err := redisconn.Validate("redis://node-1:6379?addr=node-2:6379", true); err != nil {
		t.Fatal(err)
	}
}

func TestNodeDown(t *testing.T) {
	// A port nothing listens on: what a killed master's address answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	refused := rdb.Ping(context.Background()).Err()
	if !redisconn.NodeDown(refused) {
		t.Errorf("redisconn.NodeDown(%v) = false", refused)
	}
	for _, err := range []error{nil, redis.Nil, errors.New("WRONGTYPE Operation against a key holding the wrong kind of value")} {
		if redisconn.NodeDown(err) {
			t.Errorf("redisconn.NodeDown(%v) = true", err)
		}
	}
}
