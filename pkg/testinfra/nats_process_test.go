package testinfra

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestNATSServerBinaryIsThePinnedVersion(t *testing.T) {
	t.Parallel()
	bin := NATSServerBinary(t)
	if got, want := natsBinaryVersion(bin), "v"+server.VERSION; got != want {
		t.Fatalf("%s --version = %q, want %s", bin, got, want)
	}
	if again := NATSServerBinary(t); again != bin {
		t.Errorf("second call = %s, want the cached %s", again, bin)
	}
}

func TestNATSClusterNewStreamLeaderAfterKill(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := StartNATSCluster(t, 3, NATSClusterOptions{})
	t.Logf("cluster up in %v", time.Since(start))
	if urls := c.URLs(); len(urls) != 3 || c.URL() != strings.Join(urls, ",") || !strings.HasPrefix(urls[0], "nats://127.0.0.1:") {
		t.Fatalf("URLs %q, URL %q", urls, c.URL())
	}

	// A client that fails over and reconnects forever, as the services' clients do.
	js := JetStream(t, c.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	stream := UniqueName(t, "CHAOS")
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: stream, Subjects: []string{stream + ".>"}, Storage: jetstream.FileStorage, Replicas: 3,
	}); err != nil {
		t.Fatal(err)
	}
	var want []string
	publish := func(phase string, n int) {
		t.Helper()
		for i := range n {
			data := fmt.Sprintf("%s %d", phase, i)
			// Retried while the leader moves; the message ID makes a retry of a publish that was
			// stored but not acknowledged a duplicate the stream drops.
			err := retryUntil(ctx, 0, func() error {
				pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				_, err := js.Publish(pctx, stream+".m", []byte(data), jetstream.WithMsgID(data))
				return err
			})
			if err != nil {
				t.Fatalf("publishing %q: %v", data, err)
			}
			want = append(want, data)
		}
	}
	publish("before", 10)

	leader, err := c.StreamLeader(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	c.Kill(leader)
	if c.Running(leader) {
		t.Fatalf("node %d running after Kill", leader)
	}
	next, err := c.WaitStreamLeader(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	if next == leader {
		t.Fatalf("new leader %d is the killed node", next)
	}
	t.Logf("leader %d killed, node %d leads after %v", leader, next, time.Since(killed))
	publish("after", 10)

	restart := time.Now()
	c.Start(t, leader)
	t.Logf("node %d back in %v", leader, time.Since(restart))
	c.Start(t, leader) // idempotent
	if !c.Running(leader) {
		t.Fatalf("node %d not running after Start", leader)
	}

	// Read from every node as the leader, the restarted one last: each has every message, once.
	for _, i := range []int{next, 3 - next - leader, leader} {
		if err := c.MoveStreamLeader(ctx, stream, i); err != nil {
			t.Fatal(err)
		}
		s, err := js.Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CachedInfo().State.Msgs; got != uint64(len(want)) {
			t.Errorf("leader %d: %d messages, want %d", i, got, len(want))
		}
		for seq, data := range want {
			m, err := s.GetMsg(ctx, uint64(seq+1))
			if err != nil {
				t.Fatalf("leader %d: message %d: %v", i, seq+1, err)
			}
			if string(m.Data) != data {
				t.Errorf("leader %d: message %d = %q, want %q", i, seq+1, m.Data, data)
			}
		}
	}
}

func TestNATSProcessFileStreamSurvivesKill(t *testing.T) {
	t.Parallel()
	c := StartNATSCluster(t, 1, NATSClusterOptions{SyncInterval: "always"})
	url := c.URL()
	if url != c.URLs()[0] {
		t.Fatalf("URL %q, URLs %q", url, c.URLs())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream := UniqueName(t, "CHAOS")
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{stream + ".>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := js.Publish(ctx, stream+".m", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if i, err := c.StreamLeader(ctx, stream); err != nil || i != 0 {
		t.Fatalf("StreamLeader = %d, %v; want 0", i, err)
	}

	c.Kill(0)
	if c.Running(0) {
		t.Fatal("running after Kill")
	}
	c.Kill(0) // idempotent
	Eventually(t, 5*time.Second, func() bool { return !nc.IsConnected() }, "client still connected after Kill")
	if _, err := nats.Connect(url, nats.Timeout(time.Second)); err == nil {
		t.Fatal("connected to a killed server")
	}

	c.Start(t, 0)
	Eventually(t, 10*time.Second, nc.IsConnected, "client did not reconnect")
	check := func(when string, n uint64) {
		t.Helper()
		s, err := js.Stream(ctx, stream)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if got := s.CachedInfo().State.Msgs; got != n {
			t.Fatalf("%s: %d messages, want %d", when, got, n)
		}
		for i := range n {
			m, err := s.GetMsg(ctx, i+1)
			if err != nil {
				t.Fatalf("%s: message %d: %v", when, i+1, err)
			}
			if want := fmt.Sprintf("m%d", i); string(m.Data) != want {
				t.Errorf("%s: message %d = %q, want %q", when, i+1, m.Data, want)
			}
		}
	}
	check("after the kill", 3)

	// A graceful stop keeps the stream too, and a stopped node is not running.
	if _, err := js.Publish(ctx, stream+".m", []byte("m3")); err != nil {
		t.Fatal(err)
	}
	c.Stop(0)
	if c.Running(0) {
		t.Fatal("running after Stop")
	}
	c.Stop(0) // idempotent
	if _, err := c.StreamLeader(ctx, stream); err == nil {
		t.Error("StreamLeader answered with no server running")
	} else if !strings.Contains(err.Error(), "no nats-server is running") {
		t.Errorf("StreamLeader with no server running: %v", err)
	}
	c.Start(t, 0)
	Eventually(t, 10*time.Second, nc.IsConnected, "client did not reconnect")
	check("after the stop", 4)
}
