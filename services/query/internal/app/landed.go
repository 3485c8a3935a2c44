package app

import (
	"hash/maphash"
	"sync/atomic"
)

// landed tells a load whether another load of its key finished since its
// reader missed. Only then can Redis hold what the reader missed, and only
// then is it worth asking Redis again before Postgres: a reader that missed
// just as the previous load landed joins no flight, so without the re-check
// the herd would reach Postgres twice. Keys share slots of a fixed table; a
// collision costs one needless re-check, never a wrong answer.
type landed struct {
	seq   atomic.Uint64
	slots [4096]atomic.Uint64
	seed  maphash.Seed
}

func newLanded() *landed { return &landed{seed: maphash.MakeSeed()} }

// now is the point a reader missed at.
func (l *landed) now() uint64 { return l.seq.Load() }

// since reports whether a load of key finished after point.
func (l *landed) since(key string, point uint64) bool {
	return l.slots[l.slot(key)].Load() > point
}

// mark records that a load of key finished.
func (l *landed) mark(key string) { l.slots[l.slot(key)].Store(l.seq.Add(1)) }

func (l *landed) slot(key string) uint64 {
	return maphash.String(l.seed, key) % uint64(len(l.slots))
}

// guesses remembers the generation each list filter had at its last read,
// so the next read can ask Redis for the generation and the page at once
// (ticketcache's GenerationAndList). A wrong guess, after a change or from
// a filter sharing the slot, costs a second round trip, never a wrong page.
type guesses struct {
	slots [1024]atomic.Int64
	seed  maphash.Seed
}

func newGuesses() *guesses { return &guesses{seed: maphash.MakeSeed()} }

func (g *guesses) slot(key string) *atomic.Int64 {
	return &g.slots[maphash.String(g.seed, key)%uint64(len(g.slots))]
}
