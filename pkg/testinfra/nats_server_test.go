package testinfra

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestNATSServerStopStartKeepsStream(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s := StartNATSServer(t)
	t.Logf("first start: %v", time.Since(start))
	url := s.URL()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") || strings.HasSuffix(url, ":0") {
		t.Fatalf("URL %q", url)
	}

	// A client that reconnects forever, as the services' clients do.
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream := UniqueName(t, "TEST")
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{stream + ".>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, stream+".a", []byte("before the outage")); err != nil {
		t.Fatal(err)
	}

	s.Stop()
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "nats://"), time.Second); err == nil {
		c.Close()
		t.Fatal("port still open after Stop")
	}
	Eventually(t, 5*time.Second, func() bool { return !nc.IsConnected() }, "client still connected after Stop")
	s.Stop() // idempotent

	start = time.Now()
	s.Start(t)
	t.Logf("restart: %v", time.Since(start))
	if s.URL() != url {
		t.Fatalf("URL changed: %s -> %s", url, s.URL())
	}
	s.Start(t) // idempotent

	// The old client finds the server again on the same URL, and the message survived.
	Eventually(t, 10*time.Second, nc.IsConnected, "client did not reconnect")
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := st.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Data) != "before the outage" {
		t.Errorf("message 1 = %q", msg.Data)
	}
	if _, err := js.Publish(ctx, stream+".b", []byte("after")); err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Errorf("stream holds %d messages, want 2", info.State.Msgs)
	}
}

func BenchmarkNATSServerRestart(b *testing.B) {
	s := StartNATSServer(b)
	for b.Loop() {
		s.Stop()
		s.Start(b)
	}
}
