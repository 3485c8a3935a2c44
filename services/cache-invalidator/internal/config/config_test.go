package config

import (
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, env map[string]string) (Config, error) {
	t.Helper()
	return Load(func(k string) string { return env[k] })
}

// The defaults are the reliable ones: a second list bump behind a lagging
// replica, pulls noticed lost within 2 s, loss detection on.
func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]any{
		"LIST_REBUMP_DELAY":         c.ListRebumpDelay == time.Second,
		"PULL_EXPIRY":               c.PullExpiry == 5*time.Second,
		"PULL_HEARTBEAT":            c.PullHeartbeat == 500*time.Millisecond,
		"REDIS_WAIT_REPLICAS":       c.RedisWaitReplicas == 0,
		"REDIS_LOSS_CHECK_INTERVAL": c.LossCheckInterval == time.Second,
		"LOSS_REPLAY_WINDOW":        c.ReplayWindow == 30*time.Second,
	} {
		if got != true {
			t.Errorf("%s: unexpected default in %+v", name, c)
		}
	}
}

// The heartbeat may be half the expiry, not more (nats.go's and
// nats-server's rule); each bad value is one line naming its variable.
func TestPullAndLossSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		want string // "" for valid
	}{
		{map[string]string{"PULL_EXPIRY": "5s", "PULL_HEARTBEAT": "2500ms"}, ""},
		{map[string]string{"PULL_EXPIRY": "5s", "PULL_HEARTBEAT": "2501ms"}, "PULL_HEARTBEAT"},
		{map[string]string{"PULL_EXPIRY": "30s", "PULL_HEARTBEAT": "15s"}, ""},
		{map[string]string{"PULL_HEARTBEAT": "400ms"}, "PULL_HEARTBEAT"},
		{map[string]string{"PULL_EXPIRY": "90s", "PULL_HEARTBEAT": "31s"}, "PULL_HEARTBEAT"},
		{map[string]string{"PULL_EXPIRY": "900ms"}, "PULL_EXPIRY"},
		{map[string]string{"REDIS_WAIT_REPLICAS": "1"}, ""},
		{map[string]string{"REDIS_WAIT_REPLICAS": "-1"}, "REDIS_WAIT_REPLICAS"},
		{map[string]string{"REDIS_LOSS_CHECK_INTERVAL": "0s"}, ""},
		{map[string]string{"REDIS_LOSS_CHECK_INTERVAL": "10ms"}, "REDIS_LOSS_CHECK_INTERVAL"},
		{map[string]string{"LOSS_REPLAY_WINDOW": "9s"}, "LOSS_REPLAY_WINDOW"},
		{map[string]string{"LOSS_REPLAY_WINDOW": "10s", "REDIS_LOSS_CHECK_INTERVAL": "1s"}, "LOSS_REPLAY_WINDOW"},
		{map[string]string{"LOSS_REPLAY_WINDOW": "11s", "REDIS_LOSS_CHECK_INTERVAL": "1s"}, ""},
		{map[string]string{"LIST_REBUMP_DELAY": "0s"}, ""},
	} {
		_, err := load(t, tc.env)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.env, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n")):
			t.Errorf("%v: %v, want one line naming %s", tc.env, err, tc.want)
		}
	}
}
