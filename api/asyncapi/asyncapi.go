// Package asyncapi holds the AsyncAPI 3.0 description of the TicketChanged
// event stream on NATS JetStream, tickets.yaml, embedded as it is in the
// repository.
//
// The document is written by hand, like the OpenAPI descriptions in
// api/openapi. Its tests hold it to the code: the payload schema is compared
// with the TicketChanged proto descriptor, the headers schemas with the
// header constants of pkg/ticketevent, the channel addresses with the default
// subject prefixes, and the examples and the messages ticketevent produces
// are validated against the schemas. make lint runs asyncapi validate on it
// (make asyncapi-lint).
package asyncapi

import (
	_ "embed"
	"slices"
)

//go:embed tickets.yaml
var tickets []byte

// Tickets returns the description of the events stream: tickets.yaml, byte
// for byte. The slice is the caller's.
func Tickets() []byte { return slices.Clone(tickets) }
