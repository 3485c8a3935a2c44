package main

import (
	"cmp"
	"regexp"
	"time"

	"github.com/spf13/cobra"

	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

// defaultTimeout bounds every connection attempt and every single request to a server.
const defaultTimeout = 10 * time.Second

// streamFlags name the streams the events and dlq commands work on. They are flags, not
// environment variables, so a test (or a staging stream) is one flag away and nothing in the
// environment can point an operator at the wrong stream by surprise.
type streamFlags struct {
	stream        string
	subjectPrefix string
	dlqStream     string
	timeout       time.Duration
}

// subjectTokenRe is one subject token, such as a ticket id.
var subjectTokenRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (f *streamFlags) register(cmd *cobra.Command) {
	p := cmd.PersistentFlags()
	p.StringVar(&f.stream, "stream", ticketevent.DefaultStream, "the events stream")
	p.StringVar(&f.subjectPrefix, "subject-prefix", ticketevent.DefaultSubjectPrefix,
		"subject prefix of the events stream; a ticket's events are on <prefix>.<ticket_id>")
	p.StringVar(&f.dlqStream, "dlq-stream", ticketevent.DefaultDLQStream, "the dead-letter stream")
	p.DurationVar(&f.timeout, "timeout", defaultTimeout, "limit for connecting and for each request to NATS")
}

func (f *streamFlags) validate() error {
	if err := cmp.Or(ticketevent.CheckName("--stream", f.stream), ticketevent.CheckName("--dlq-stream", f.dlqStream),
		ticketevent.CheckSubjectPrefix("--subject-prefix", f.subjectPrefix)); err != nil {
		return usageError{err}
	}
	if f.timeout <= 0 {
		return usagef("--timeout must be positive, got %s", f.timeout)
	}
	return nil
}

// subject is the subject of one ticket's events.
func (f *streamFlags) subject(ticketID string) string {
	return f.subjectPrefix + "." + ticketID
}
