package ticketevent

import (
	"cmp"
	"errors"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of the contract.
const (
	DefaultStream        = "TICKETS"
	DefaultSubjectPrefix = "tickets.changed"
	DefaultDLQStream     = "TICKETS_DLQ"
	DefaultDLQPrefix     = "tickets.dlq"
	// DefaultConsumer is the invalidator's durable consumer, which ticketctl
	// reports on.
	DefaultConsumer = "cache-invalidator"
	DuplicateWindow = 2 * time.Minute
)

var (
	nameRe   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	prefixRe = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
)

// CheckName checks a stream or consumer name, given in setting (a variable
// or a flag, which the error names).
func CheckName(setting, name string) error {
	if !nameRe.MatchString(name) {
		return errors.New(setting + ": letters, digits, - and _ only (at most 64)")
	}
	return nil
}

// CheckSubjectPrefix checks a subject prefix: dot-separated tokens without
// wildcards, so <prefix>.<ticket_id> is one ticket's subject.
func CheckSubjectPrefix(setting, prefix string) error {
	if !prefixRe.MatchString(prefix) {
		return errors.New(setting + ": dot-separated tokens without wildcards")
	}
	return nil
}

// StreamNames is the configuration block naming the events stream, shared
// by the command service (which publishes) and the invalidator (which
// consumes).
type StreamNames struct {
	Name          string `env:"STREAM_NAME" envDefault:"TICKETS"`
	SubjectPrefix string `env:"STREAM_SUBJECT_PREFIX" envDefault:"tickets.changed"`
}

// Validate checks both names.
func (n StreamNames) Validate() error {
	return cmp.Or(CheckName("STREAM_NAME", n.Name), CheckSubjectPrefix("STREAM_SUBJECT_PREFIX", n.SubjectPrefix))
}

// StreamOptions name a stream and its subjects; tests use their own so they
// run in parallel on one server.
type StreamOptions struct {
	Name          string
	SubjectPrefix string
	Replicas      int
	MaxAge        time.Duration
	// MaxMsgs and MaxBytes bound the stream (0: unlimited); the oldest
	// messages are discarded first. The DLQ sets them so that a long outage
	// cannot fill the JetStream store the events stream shares.
	MaxMsgs  int64
	MaxBytes int64
}

// Subject is the subject of one ticket's events.
func (o StreamOptions) Subject(ticketID string) string {
	return o.SubjectPrefix + "." + ticketID
}

// Config is the events stream's configuration as the contract sets it.
func (o StreamOptions) Config() jetstream.StreamConfig {
	return o.config("TicketChanged events, one per committed change")
}

// DLQConfig is the configuration of the dead-letter stream o names:
// subjects <prefix>.<ticket_id>, kept MaxAge (and within MaxMsgs and
// MaxBytes, oldest dropped first) for an operator to inspect and replay. Its duplicate window drops a second copy when an ack to the
// original stream was lost.
func (o StreamOptions) DLQConfig() jetstream.StreamConfig {
	return o.config("TicketChanged events the cache-invalidator could not apply")
}

func (o StreamOptions) config(description string) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        o.Name,
		Description: description,
		Subjects:    []string{o.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  DuplicateWindow,
		MaxAge:      o.MaxAge,
		MaxMsgs:     o.MaxMsgs,
		MaxBytes:    o.MaxBytes,
		Replicas:    o.Replicas,
		Discard:     jetstream.DiscardOld,
	}
}
