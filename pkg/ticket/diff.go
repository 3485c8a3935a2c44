package ticket

import "slices"

// ChangedFields lists the API fields whose values differ between a and b, in
// the contract's field order. An empty result means the write is a no-op.
func ChangedFields(a, b Ticket) []string {
	var out []string
	add := func(name string, differ bool) {
		if differ {
			out = append(out, name)
		}
	}
	add("title", a.Title != b.Title)
	add("description", a.Description != b.Description)
	add("status", a.Status != b.Status)
	add("priority", a.Priority != b.Priority)
	add("assignee", a.Assignee != b.Assignee)
	add("reporter", a.Reporter != b.Reporter)
	add("tags", !slices.Equal(a.Tags, b.Tags))
	return out
}
