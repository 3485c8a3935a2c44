package main

import (
	"strings"
	"testing"

	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

// Usage errors are found before any connection is tried: NATS_URL points nowhere, so a
// command that got past its checks would exit 1, not 2.
func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	nowhere := map[string]string{"NATS_URL": "nats://127.0.0.1:1", "REDIS_URL": "redis://127.0.0.1:1", "DATABASE_URL": "postgres://127.0.0.1:1/x"}
	tests := []struct {
		args []string
		msg  string
	}{
		{[]string{"events", "tail", "--change", "renamed"}, `--change "renamed": want created, updated or deleted`},
		{[]string{"events", "tail", "--change", "change_unspecified"}, "want created, updated or deleted"},
		{[]string{"events", "tail", "--since", "-5m"}, "--since must be positive"},
		{[]string{"events", "tail", "--since", "soon"}, "invalid argument"},
		{[]string{"events", "tail", "--since-time", "yesterday"}, "want an RFC 3339 time"},
		{[]string{"events", "tail", "--since", "5m", "--seq", "3"}, "none of the others can be"},
		{[]string{"events", "tail", "--seq", "0"}, "--seq must be at least 1"},
		{[]string{"events", "tail", "--ticket", "a.b"}, `--ticket "a.b": not a ticket id`},
		{[]string{"events", "tail", "--ticket", ">"}, "not a ticket id"},
		{[]string{"events", "tail", "--count", "-1"}, "--count must not be negative"},
		{[]string{"events", "tail", "--stream", "A.B"}, "--stream"},
		{[]string{"events", "tail", "--subject-prefix", "tickets.>"}, "--subject-prefix"},
		{[]string{"events", "tail", "--timeout", "0s"}, "--timeout must be positive"},
		{[]string{"events", "tail", "extra"}, "unknown command"},
		{[]string{"events", "stats", "--consumer", "a b"}, "--consumer"},
		{[]string{"events", "frobnicate"}, `unknown command "frobnicate" for "ticketctl events"`},
		{[]string{"dlq", "list", "--limit", "-1"}, "--limit must not be negative"},
		{[]string{"dlq", "replay"}, "at least one of the flags in the group [seq all] is required"},
		{[]string{"dlq", "replay", "--seq", "1", "--all"}, "none of the others can be"},
		{[]string{"dlq", "replay", "--seq", "0"}, "--seq must be at least 1"},
		{[]string{"dlq", "purge"}, "unknown command"},
		{[]string{"cache", "check", "--grace", "-1s"}, "--grace must not be negative"},
		{[]string{"cache", "check", "--timeout", "0s"}, "--timeout must be positive"},
		{[]string{"cache", "check", "--nope"}, "unknown flag"},
		{[]string{"cache", "wipe"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, nowhere, tt.args...)
			if code != exitUsage {
				t.Errorf("exit code %d, want %d; stdout=%q stderr=%q", code, exitUsage, out, errOut)
			}
			for _, want := range []string{tt.msg, "--help' for usage"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr %q lacks %q", errOut, want)
				}
			}
			if out != "" {
				t.Errorf("stdout = %q, want empty", out)
			}
		})
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"Exit codes:", "3  cache check found stale entries", "NATS_URL", "events", "dlq", "cache", "token"}},
		{[]string{"events"}, []string{"tail", "stats", "--stream", "--subject-prefix"}},
		{[]string{"events", "tail", "--help"}, []string{"Examples:", "ordered consumer", "--ticket", "--change", "--since", "--since-time", "--seq", "--count", "--json"}},
		{[]string{"events", "stats", "--help"}, []string{"Examples:", "--consumer", "--dlq-stream", "--json"}},
		{[]string{"dlq", "--help"}, []string{ticketevent.HeaderDLQReason, ticketevent.HeaderDLQOriginalSubject, ticketevent.HeaderDLQOriginalSequence, ticketevent.HeaderDLQDeliveries}},
		{[]string{"dlq", "list", "--help"}, []string{"Examples:", "--limit", "--json"}},
		{[]string{"dlq", "replay", "--help"}, []string{"Examples:", "--seq", "--all", "--dry-run", "-replay-"}},
		{[]string{"cache", "--help"}, []string{"check"}},
		{[]string{"cache", "check", "--help"}, []string{"Examples:", "Exit codes: 0 nothing stale, 3 stale", "SCAN", "superseded", "--prefix", "--grace"}},
		{[]string{"token", "--help"}, []string{"--sub", "--scope"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, nil, tt.args...)
			if code != exitOK {
				t.Errorf("exit code %d, want %d; stderr=%s", code, exitOK, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("help lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
