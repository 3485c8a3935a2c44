package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/ticketsys/ticketsys/client/api"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// The values of the flags that take one of a fixed set, from the definitions the services use,
// for shell completion (ticketctl completion bash|zsh|fish|powershell).
var (
	statusValues   = []string{ticket.StatusOpen, ticket.StatusInProgress, ticket.StatusResolved, ticket.StatusClosed}
	priorityValues = []string{ticket.PriorityLow, ticket.PriorityMedium, ticket.PriorityHigh, ticket.PriorityUrgent}
	sortByValues   = []string{ticket.SortCreatedAt, ticket.SortUpdatedAt, ticket.SortPriority, ticket.SortTitle}
	orderValues    = []string{string(api.OrderAsc), string(api.OrderDesc)}
	// scopeValues are the API's scopes: tickets:read for the query service, tickets:write for
	// the command service.
	scopeValues = []string{"tickets:read", "tickets:write"}
	// changeValues are what events tail --change takes: the event's kinds in lower case, in the
	// order the proto declares them, without CHANGE_UNSPECIFIED.
	changeValues = func() []string {
		var out []string
		vals := eventsv1.Change_CHANGE_UNSPECIFIED.Descriptor().Values()
		for i := range vals.Len() {
			if v := vals.Get(i); v.Number() != 0 {
				out = append(out, strings.ToLower(string(v.Name())))
			}
		}
		return out
	}()
)

// completeValues makes the shell offer values for the flag, and no file names.
func completeValues(cmd *cobra.Command, flag string, values []string) {
	if err := cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)); err != nil {
		panic(err) // no such flag, or registered twice: a mistake in this file's callers
	}
}
