package auth

import (
	"sync"
	"time"
)

// verified remembers tokens that passed verification, so a client sending
// the same token on every request pays for the signature and the claims
// once, not per request. An entry lives until the token would expire (with
// the parser's leeway), at most cacheFor, so a key withdrawn from a JWKS
// stops being honoured within that time.
type verified struct {
	mu      sync.RWMutex
	entries map[string]verifiedEntry
}

type verifiedEntry struct {
	claims *Claims
	until  time.Time
}

const (
	cacheFor     = 5 * time.Minute
	cacheEntries = 10_000
)

func (v *verified) get(token string, now time.Time) (*Claims, bool) {
	v.mu.RLock()
	e, ok := v.entries[token]
	v.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.claims, true
}

func (v *verified) put(token string, c *Claims, exp, now time.Time) {
	until := exp.Add(Leeway)
	if limit := now.Add(cacheFor); limit.Before(until) {
		until = limit
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.entries == nil {
		v.entries = make(map[string]verifiedEntry)
	}
	if len(v.entries) >= cacheEntries {
		// Drop the expired ones, and if none were, any one: a full cache
		// must not grow, and a dropped token is only verified again.
		for k, e := range v.entries {
			if !now.Before(e.until) {
				delete(v.entries, k)
			}
		}
		for k := range v.entries {
			if len(v.entries) < cacheEntries {
				break
			}
			delete(v.entries, k)
		}
	}
	v.entries[token] = verifiedEntry{claims: c, until: until}
}
