package ticketcache

import "github.com/ticketsys/ticketsys/pkg/ticket"

// AffectedGens lists the generation keys of every list a change can touch:
// each filter combination (status or any) × (assignee or any) that the
// ticket matched before or matches after. prev or next may be nil.
func (k Keys) AffectedGens(prev, next *ticket.Ticket) []string {
	seen := map[string]bool{}
	var out []string
	add := func(t *ticket.Ticket) {
		if t == nil {
			return
		}
		for _, s := range []string{"", t.Status} {
			for _, a := range []string{"", t.Assignee} {
				key := k.Gen(s, a)
				if !seen[key] {
					seen[key] = true
					out = append(out, key)
				}
			}
		}
	}
	add(prev)
	add(next)
	return out
}
