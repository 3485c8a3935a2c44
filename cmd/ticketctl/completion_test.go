package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/ticketsys/ticketsys/client/api"
)

// complete runs cobra's hidden __complete command, as the shell scripts do, and returns the
// values offered and the directive line (":4" is "no file names").
func complete(t *testing.T, args ...string) (values []string, directive string) {
	t.Helper()
	code, out, errOut := runCLI(t, nil, append([]string{"__complete"}, args...)...)
	if code != exitOK {
		t.Fatalf("exit code %d, want %d; stderr=%s", code, exitOK, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	return lines[:len(lines)-1], lines[len(lines)-1]
}

func TestFlagValuesComplete(t *testing.T) {
	t.Parallel()
	statuses := []string{"open", "in_progress", "resolved", "closed"}
	priorities := []string{"low", "medium", "high", "urgent"}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"events", "tail", "--change", ""}, []string{"created", "updated", "deleted"}},
		{[]string{"events", "tail", "--since", "1h", "--change", "up"}, []string{"created", "updated", "deleted"}},
		{[]string{"tickets", "list", "--status", ""}, statuses},
		{[]string{"tickets", "list", "--sort-by", ""}, []string{"created_at", "updated_at", "priority", "title"}},
		{[]string{"tickets", "list", "--order", ""}, []string{"asc", "desc"}},
		{[]string{"tickets", "create", "--status", ""}, statuses},
		{[]string{"tickets", "create", "--priority", ""}, priorities},
		{[]string{"tickets", "update", "some-id", "--status", ""}, statuses},
		{[]string{"tickets", "update", "some-id", "--priority", ""}, priorities},
		{[]string{"token", "--scope", ""}, []string{"tickets:read", "tickets:write"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			got, directive := complete(t, tt.args...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("completions %q, want %q", got, tt.want)
			}
			if directive != ":4" {
				t.Errorf("directive %q, want :4 (no file names)", directive)
			}
		})
	}
}

// What completion offers is what the API contract and tail itself accept.
func TestCompletionValuesAreValid(t *testing.T) {
	t.Parallel()
	check := func(flag string, values []string, valid func(string) bool, n int) {
		if len(values) != n {
			t.Errorf("%s: %d values %q, want %d", flag, len(values), values, n)
		}
		for _, v := range values {
			if !valid(v) {
				t.Errorf("%s %q is not in the API contract", flag, v)
			}
		}
	}
	check("--status", statusValues, func(s string) bool { return api.TicketStatus(s).Valid() }, 4)
	check("--priority", priorityValues, func(s string) bool { return api.TicketPriority(s).Valid() }, 4)
	check("--sort-by", sortByValues, func(s string) bool { return api.SortBy(s).Valid() }, 4)
	check("--order", orderValues, func(s string) bool { return api.Order(s).Valid() }, 2)
	for _, c := range changeValues {
		code, _, errOut := runCLI(t, map[string]string{"NATS_URL": "nats://127.0.0.1:1"}, "events", "tail", "--change", c, "--timeout", "100ms")
		if code == exitUsage {
			t.Errorf("--change %s, offered by completion, is a usage error: %s", c, errOut)
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	t.Parallel()
	for shell, want := range map[string]string{
		"bash":       "__start_ticketctl",
		"zsh":        "#compdef ticketctl",
		"fish":       "complete -c ticketctl",
		"powershell": "Register-ArgumentCompleter",
	} {
		t.Run(shell, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, nil, "completion", shell)
			if code != exitOK {
				t.Fatalf("exit code %d, want %d; stderr=%s", code, exitOK, errOut)
			}
			if !strings.Contains(out, want) {
				t.Errorf("the %s script lacks %q", shell, want)
			}
		})
	}
}
