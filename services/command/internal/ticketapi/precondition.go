package ticketapi

import (
	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/services/command/internal/app"
)

// parseIfMatch reads an If-Match header; nil means "no precondition". A tag
// that is not one of ours matches nothing, so the write answers 412 (RFC
// 9110). Weak tags never match under If-Match's strong comparison.
func parseIfMatch(h string) *app.Precondition {
	if h == "" {
		return nil
	}
	tags, anyTag := httpx.ParseEntityTags(h)
	if anyTag {
		return &app.Precondition{Any: true}
	}
	pre := &app.Precondition{Versions: []int64{}}
	for _, t := range tags {
		if !t.Weak {
			pre.Versions = append(pre.Versions, t.Version)
		}
	}
	return pre
}
