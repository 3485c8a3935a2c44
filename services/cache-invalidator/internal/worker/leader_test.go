package worker_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ticketsys/ticketsys/pkg/natsconn"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

// On a three-node cluster the node leading the durable consumer is lost:
// killed, or hung (SIGSTOP: a stalled machine, a partition), with the
// worker connected to it or to another node. The worker is caught up within
// about 2 s of the new leader in every case. With nats-server 2.15 the new
// leader takes over the waiting pull requests, so a worker on another node
// resumes at once; one on the hung node needs its connection's pings
// (natsconn.Liveness, ~6 s) to leave it: nats.go's defaults take 6 minutes,
// and missed heartbeats alone only pull again down the same dead
// connection. Heartbeats every PULL_HEARTBEAT bound a pull lost without any
// of these signs.
func TestCatchUpAfterConsumerLeaderLoss(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		hang, onIt bool
	}{
		{"killed", false, false},
		{"hung", true, false},
		{"killed with the worker on it", false, true},
		{"hung with the worker on it", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			catchUpAfterLeaderLoss(t, c.hang, c.onIt)
		})
	}
}

func catchUpAfterLeaderLoss(t *testing.T, hang, onIt bool) {
	cl := testinfra.StartNATSCluster(t, 3, testinfra.NATSClusterOptions{})
	ctx := context.Background()
	admin := testinfra.JetStream(t, cl.URL())
	name := testinfra.UniqueName(t, "CL")
	stream := ticketevent.StreamOptions{Name: name, SubjectPrefix: "test." + name + ".changed", Replicas: 3, MaxAge: time.Hour}
	testinfra.Eventually(t, 30*time.Second, func() bool {
		_, err := admin.CreateOrUpdateStream(ctx, stream.Config())
		return err == nil
	}, "the R3 stream was never created")
	const durable = "cache-invalidator"
	if _, err := admin.CreateOrUpdateConsumer(ctx, name, jetstream.ConsumerConfig{
		Durable: durable, AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: stream.SubjectPrefix + ".>",
	}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	leader, err := cl.WaitConsumerLeader(wctx, name, durable)
	if err != nil {
		t.Fatal(err)
	}
	other := (leader + 1) % 3

	// The worker's connection as the service makes it, to the leader or
	// to another node first.
	h := newHarnessOn(t, cl.URLs()[other], testinfra.RedisURL(t), false)
	h.stream = stream
	first := other
	if onIt {
		first = leader
	}
	urls := []string{cl.URLs()[first]}
	for i, u := range cl.URLs() {
		if i != first {
			urls = append(urls, u)
		}
	}
	opts := append(natsconn.Liveness(2*time.Second, 2), nats.DontRandomize(), nats.ReconnectWait(50*time.Millisecond))
	nc, err := natsconn.Connect(strings.Join(urls, ","), "", "worker", slog.New(slog.DiscardHandler), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if h.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	cfg := h.config()
	cfg.PullExpiry, cfg.PullHeartbeat = 5*time.Second, time.Second
	h.start(cfg)
	publisher := testinfra.JetStream(t, cl.URLs()[other]) // a node that stays up
	v1 := newTicket(t, "before")
	h.publish(created(t, v1))
	h.waitVersion(v1.ID, 1, false)

	killed := time.Now()
	if hang {
		freeze(t, cl.URLs()[leader])
	} else {
		cl.Kill(leader)
	}
	var newLeader int
	testinfra.Eventually(t, 60*time.Second, func() bool {
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		s, serr := cl.StreamLeader(lctx, name)
		c, cerr := cl.ConsumerLeader(lctx, name, durable)
		newLeader = c
		return serr == nil && cerr == nil && s != leader && c != leader
	}, "no new stream and consumer leader")
	elected := time.Now()

	v2, ev := updated(t, v1, func(x *ticket.Ticket) { x.Title = "after" })
	body, err := ticketevent.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	msg := nats.NewMsg(stream.Subject(v2.ID))
	msg.Header = ticketevent.NATSHeader(ticketevent.Headers(ev, "/test"))
	msg.Data = body
	testinfra.Eventually(t, 30*time.Second, func() bool {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := publisher.PublishMsg(pctx, msg)
		return err == nil
	}, "the event after the kill was never stored")
	published := time.Now()
	h.waitVersion(v2.ID, 2, false)
	caughtUp := time.Now()

	t.Logf("leader n%d lost (hung: %v, worker on it: %v); n%d elected after %v; event stored %v later; in the cache %v after the election",
		leader+1, hang, onIt, newLeader+1, elected.Sub(killed).Round(time.Millisecond), published.Sub(elected).Round(time.Millisecond),
		caughtUp.Sub(elected).Round(time.Millisecond))
	// 2 s of missed heartbeats at most, from whenever the stored event
	// could first be delivered; a second of slack for a loaded machine.
	if lag := caughtUp.Sub(elected); lag > 3*time.Second+published.Sub(elected) {
		t.Fatalf("caught up %v after the new consumer leader, want about 2s", lag)
	}
}

// freeze stops the nats-server process that listens on url's port with
// SIGSTOP, as a hung machine, and lets it go on at cleanup (the cluster's
// own cleanup then ends it). The process is found by its configuration file,
// which names the port.
func freeze(t *testing.T, url string) {
	t.Helper()
	port := url[strings.LastIndex(url, ":")+1:]
	procs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("freeze: %v", err)
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) < 3 || !strings.Contains(filepath.Base(args[0]), "nats-server") || args[1] != "-c" {
			continue
		}
		conf, err := os.ReadFile(args[2])
		if err != nil || !strings.Contains(string(conf), "listen: \"127.0.0.1:"+port+"\"") {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatalf("freeze: %v", err)
		}
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
		return
	}
	t.Fatalf("freeze: no nats-server process listens on %s", url)
}
