package auth

import (
	"strconv"
	"testing"
	"time"
)

func TestVerifiedCache(t *testing.T) {
	t.Parallel()
	var v verified
	now := time.Now()
	c := &Claims{Subject: "alice"}
	v.put("a", c, now.Add(time.Hour), now)
	if got, ok := v.get("a", now.Add(time.Minute)); !ok || got != c {
		t.Fatal("a verified token is not remembered")
	}
	if _, ok := v.get("a", now.Add(cacheFor)); ok {
		t.Fatal("remembered past cacheFor")
	}
	v.put("b", c, now.Add(-time.Hour), now)
	if _, ok := v.get("b", now); ok {
		t.Fatal("a token expired beyond the leeway is remembered")
	}
	v.put("c", c, now, now)
	if _, ok := v.get("c", now.Add(Leeway)); ok {
		t.Fatal("remembered past exp plus the leeway")
	}
	for i := range cacheEntries + 100 {
		v.put(strconv.Itoa(i), c, now.Add(time.Hour), now)
	}
	if n := len(v.entries); n > cacheEntries {
		t.Fatalf("%d entries, want at most %d", n, cacheEntries)
	}
}
