package testinfra

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// deleteStreamTimeout bounds the deletion of one stream at cleanup: a NATS server that does not answer
// should not hold up the whole test binary.
const deleteStreamTimeout = 5 * time.Second

// DeleteStreamsAtCleanup deletes the named JetStream streams when the test ends. Tests share one NATS
// server (NATSURL) and name their streams with UniqueName; streams left behind would pile up there, run
// after run, with their messages. A stream that does not exist is fine: the test may never have created
// it (a DLQ only appears once something is dead-lettered) or deleted it itself. Any other failure (the
// test stopped its own server for good) is logged, not failed: the stream goes with that server, or
// stays under a name no other test uses.
//
// The cleanup uses js, so register the cleanup that closes its connection before calling this (cleanups
// run last-in first-out).
func DeleteStreamsAtCleanup(t testing.TB, js jetstream.JetStream, names ...string) {
	t.Helper()
	t.Cleanup(func() {
		for _, name := range names {
			ctx, cancel := context.WithTimeout(context.Background(), deleteStreamTimeout)
			err := js.DeleteStream(ctx, name)
			cancel()
			if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				t.Logf("testinfra.DeleteStreamsAtCleanup: stream %s may be left: %v", name, err)
			}
		}
	})
}

// JetStream connects to the NATS server at url for the test and closes the
// connection at cleanup. Extra options come last; a test that restarts its
// server passes reconnect options.
func JetStream(t testing.TB, url string, opts ...nats.Option) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("testinfra.JetStream: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("testinfra.JetStream: %v", err)
	}
	return js
}
