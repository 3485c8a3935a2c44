package ticketapi

import (
	"strconv"
	"strings"

	"github.com/ticketsys/ticketsys/services/command/internal/app"
)

// etag is the entity tag of a version, as every service writes it.
func etag(version int64) string {
	return `"` + strconv.FormatInt(version, 10) + `"`
}

// parseIfMatch reads an If-Match header; nil means "no precondition". A tag
// that is not one of ours matches nothing, so the write answers 412 (RFC 9110).
// Weak tags never match under If-Match's strong comparison.
func parseIfMatch(h string) *app.Precondition {
	h = strings.TrimSpace(h)
	if h == "" {
		return nil
	}
	if h == "*" {
		return &app.Precondition{Any: true}
	}
	pre := &app.Precondition{Versions: []int64{}}
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimSpace(tag)
		if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
			continue
		}
		if v, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 64); err == nil && v > 0 {
			pre.Versions = append(pre.Versions, v)
		}
	}
	return pre
}
