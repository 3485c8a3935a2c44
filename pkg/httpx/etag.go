package httpx

import (
	"strconv"
	"strings"
)

// ETag is the entity tag of a ticket version, "3", as both services write
// it and as If-Match and If-None-Match name it.
func ETag(version int64) string {
	return `"` + strconv.FormatInt(version, 10) + `"`
}

// EntityTag is one member of an If-Match or If-None-Match list that names a
// version of ours.
type EntityTag struct {
	Version int64
	Weak    bool
}

// ParseEntityTags reads an If-Match or If-None-Match header: anyTag is true for
// "*"; otherwise tags holds the members that are tags ETag could have
// written (weak ones marked). A member that is not one of ours, "01" among
// them, is left out: it matches nothing (RFC 9110 section 13.1).
func ParseEntityTags(h string) (tags []EntityTag, anyTag bool) {
	h = strings.TrimSpace(h)
	if h == "*" {
		return nil, true
	}
	for _, m := range strings.Split(h, ",") {
		m = strings.TrimSpace(m)
		weak := strings.HasPrefix(m, "W/")
		m = strings.TrimPrefix(m, "W/")
		if len(m) < 3 || m[0] != '"' || m[len(m)-1] != '"' {
			continue
		}
		v, err := strconv.ParseInt(m[1:len(m)-1], 10, 64)
		if err != nil || v < 1 || ETag(v) != m {
			continue
		}
		tags = append(tags, EntityTag{Version: v, Weak: weak})
	}
	return tags, false
}
