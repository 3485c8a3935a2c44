package main

import (
	"github.com/nats-io/nats.go"

	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

// dlqHeaders returns the dead-letter headers of h (see ticketevent's
// HeaderDLQ*), first value each.
func dlqHeaders(h nats.Header) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		if ticketevent.IsDLQHeader(k) && len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}
