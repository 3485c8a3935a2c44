package ticketevent

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of the contract.
const (
	DefaultStream        = "TICKETS"
	DefaultSubjectPrefix = "tickets.changed"
	DefaultDLQStream     = "TICKETS_DLQ"
	DefaultDLQPrefix     = "tickets.dlq"
	DuplicateWindow      = 2 * time.Minute
)

// StreamOptions name a stream and its subjects; tests use their own so they
// run in parallel on one server.
type StreamOptions struct {
	Name          string
	SubjectPrefix string
	Replicas      int
	MaxAge        time.Duration
}

// Subject is the subject of one ticket's events.
func (o StreamOptions) Subject(ticketID string) string {
	return o.SubjectPrefix + "." + ticketID
}

// Config is the stream's configuration as the contract sets it.
func (o StreamOptions) Config() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        o.Name,
		Description: "TicketChanged events, one per committed change",
		Subjects:    []string{o.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  DuplicateWindow,
		MaxAge:      o.MaxAge,
		Replicas:    o.Replicas,
		Discard:     jetstream.DiscardOld,
	}
}
