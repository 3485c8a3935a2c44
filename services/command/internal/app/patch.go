package app

import "github.com/ticketsys/ticketsys/pkg/ticket"

// Patch holds the writable fields a request sets; nil means "leave as is".
// Values arrive validated and normalised (trimmed) from the HTTP edge.
type Patch struct {
	Title       *string
	Description *string
	Status      *string
	Priority    *string
	Assignee    *string
	Reporter    *string
	Tags        *[]string
}

// Apply returns t with the patch's fields set.
func (p Patch) Apply(t ticket.Ticket) ticket.Ticket {
	out := t.Clone()
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&out.Title, p.Title)
	set(&out.Description, p.Description)
	set(&out.Status, p.Status)
	set(&out.Priority, p.Priority)
	set(&out.Assignee, p.Assignee)
	set(&out.Reporter, p.Reporter)
	if p.Tags != nil {
		out.Tags = append([]string{}, (*p.Tags)...)
	}
	return out
}

// Empty reports whether the patch names no field at all.
func (p Patch) Empty() bool {
	return p.Title == nil && p.Description == nil && p.Status == nil && p.Priority == nil &&
		p.Assignee == nil && p.Reporter == nil && p.Tags == nil
}
