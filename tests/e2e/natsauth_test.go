package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ticketsys/ticketsys/pkg/natsconn"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// natsUsers are the users of deploy/nats/auth.conf and the client name each connects with (which
// fixes its reply inbox).
var natsUsers = map[string]string{
	"command":           "ticketsys-command",
	"cache-invalidator": "ticketsys-cache-invalidator",
	"ticketctl":         "ticketctl",
	"admin":             "admin",
}

// natsWithAuth runs a private NATS server with deploy/nats/nats.conf as shipped (its users and
// permissions), and returns a URL per user.
func natsWithAuth(t *testing.T) map[string]string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	deploy := filepath.Join(filepath.Dir(file), "../../deploy/nats")
	dir := t.TempDir()
	conf := ""
	for user, v := range map[string]string{"command": "NATS_COMMAND_PASSWORD", "cache-invalidator": "NATS_INVALIDATOR_PASSWORD",
		"ticketctl": "NATS_TICKETCTL_PASSWORD", "admin": "NATS_ADMIN_PASSWORD"} {
		conf += v + ": \"pw-" + user + "\"\n"
	}
	for _, f := range []string{"nats.conf", "auth.conf"} {
		b, err := os.ReadFile(filepath.Join(deploy, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "auth.conf" {
			b = append([]byte(conf), b...)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	srv := testinfra.StartNATSServerWithConfig(t, filepath.Join(dir, "nats.conf"))
	urls := map[string]string{}
	for user := range natsUsers {
		urls[user] = strings.Replace(srv.URL(), "nats://", "nats://"+user+":pw-"+user+"@", 1)
	}
	return urls
}

// connectAs connects as user, with the client name that user's services use, and records the
// permission violations the server reports.
func connectAs(t *testing.T, url, user string) (*nats.Conn, jetstream.JetStream, func() []string) {
	t.Helper()
	errs := make(chan string, 64)
	nc, err := nats.Connect(url, nats.Name(natsUsers[user]), nats.CustomInboxPrefix(natsconn.InboxPrefix(natsUsers[user])),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case errs <- err.Error():
			default:
			}
		}))
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// The violations reported since the last call.
	return nc, js, func() []string {
		_ = nc.Flush()
		var violations []string
		for {
			select {
			case e := <-errs:
				violations = append(violations, e)
			case <-time.After(200 * time.Millisecond):
				return violations
			}
		}
	}
}

// The services run end to end as the least-privileged users of deploy/nats/auth.conf, and each user
// is refused what is not its job: a forged event, a consumer stolen or deleted, a stream dropped.
func TestNATSLeastPrivilege(t *testing.T) {
	t.Parallel()
	urls := natsWithAuth(t)
	s := newStackOpts(t, stackOptions{
		nats:         urls["admin"],
		defaultNames: true,
		perProcess: map[string]map[string]string{
			"command":           {"NATS_URL": urls["command"]},
			"query":             {"NATS_URL": ""},
			"cache-invalidator": {"NATS_URL": urls["cache-invalidator"]},
		},
	})

	// The whole flow works with these permissions: a write is relayed, consumed and applied.
	tk := s.create(`{"title":"least privilege","priority":"low"}`)
	mustStatus(t, s.read("/tickets/"+tk.ID), http.StatusOK) // cached now
	r := s.write(http.MethodPatch, "/tickets/"+tk.ID, `{"status":"in_progress"}`)
	mustStatus(t, r, http.StatusOK)
	s.settle()
	if got := s.read("/tickets/" + tk.ID).ticket(t); got.Status != "in_progress" {
		t.Fatalf("after the update the cache serves %q", got.Status)
	}

	ctx := context.Background()
	refused := func(user, what string, err error, violations func() []string) {
		t.Helper()
		v := violations()
		if err == nil && len(v) == 0 {
			t.Errorf("%s may %s", user, what)
		}
	}

	// command: publishes events only.
	nc, js, v := connectAs(t, urls["command"], "command")
	if _, err := js.Publish(ctx, "tickets.changed.forged", []byte("x")); err != nil {
		t.Errorf("command may not publish an event: %v", err)
	}
	err := nc.Publish("tickets.dlq.forged", []byte("x"))
	refused("command", "publish to the DLQ", err, v)
	err = js.DeleteStream(ctx, "TICKETS")
	refused("command", "delete the stream", err, v)
	_, err = js.Consumer(ctx, "TICKETS", "cache-invalidator")
	refused("command", "read the consumer", err, v)
	_, err = nc.SubscribeSync("tickets.changed.>")
	refused("command", "subscribe to events", err, v)

	// cache-invalidator: cannot forge events or drop the stream.
	nc, js, v = connectAs(t, urls["cache-invalidator"], "cache-invalidator")
	err = nc.Publish("tickets.changed.forged", []byte(`{"version":9007199254740992}`))
	refused("cache-invalidator", "publish an event", err, v)
	err = js.DeleteStream(ctx, "TICKETS")
	refused("cache-invalidator", "delete the stream", err, v)
	_, err = js.CreateOrUpdateConsumer(ctx, "TICKETS", jetstream.ConsumerConfig{Durable: "other"})
	refused("cache-invalidator", "make another consumer", err, v)
	_, err = nc.SubscribeSync("_INBOX_ticketsys-command.>")
	refused("cache-invalidator", "read the command service's replies", err, v)
	err = js.DeleteConsumer(ctx, "TICKETS", "cache-invalidator")
	refused("cache-invalidator", "delete its durable consumer", err, v)
	// The replay after a Redis data loss: an ordered consumer on the events.
	ist, err := js.Stream(ctx, "TICKETS")
	if err != nil {
		t.Fatalf("cache-invalidator may not read the stream: %v", err)
	}
	replay, err := ist.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"tickets.changed.>"}})
	if err != nil {
		t.Fatalf("cache-invalidator may not replay: %v", err)
	}
	if _, err := replay.Fetch(1, jetstream.FetchMaxWait(time.Second)); err != nil {
		t.Fatalf("cache-invalidator may not replay: %v", err)
	}

	// ticketctl: reads, follows with its own ordered consumer, writes nothing.
	_, js, v = connectAs(t, urls["ticketctl"], "ticketctl")
	st, err := js.Stream(ctx, "TICKETS")
	if err != nil {
		t.Fatalf("ticketctl may not read the stream: %v", err)
	}
	if _, err := st.Consumer(ctx, "cache-invalidator"); err != nil {
		t.Errorf("ticketctl may not read the consumer: %v", err)
	}
	oc, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatalf("ticketctl may not follow the stream: %v", err)
	}
	if m, err := oc.Next(jetstream.FetchMaxWait(5 * time.Second)); err != nil || !strings.HasPrefix(m.Subject(), "tickets.changed.") {
		t.Errorf("ticketctl follows nothing: %v", err)
	}
	_, err = js.Publish(ctx, "tickets.changed.forged", []byte("x"))
	refused("ticketctl", "publish an event", err, v)
	err = js.DeleteConsumer(ctx, "TICKETS", "cache-invalidator")
	refused("ticketctl", "delete the durable consumer", err, v)
	_, err = js.CreateOrUpdateConsumer(ctx, "TICKETS", jetstream.ConsumerConfig{Durable: "cache-invalidator", AckWait: time.Hour})
	refused("ticketctl", "change the durable consumer", err, v)
	if cons, err := js.Consumer(ctx, "TICKETS", "cache-invalidator"); err != nil {
		t.Errorf("ticketctl may not read the consumer: %v", err)
	} else {
		_, _ = cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		// Fetch reports nothing of a refused pull; the server's violation does.
		refused("ticketctl", "pull from the durable consumer", nil, v)
	}
	err = st.DeleteMsg(ctx, 1)
	refused("ticketctl", "delete a message", err, v)
	err = js.DeleteStream(ctx, "TICKETS")
	refused("ticketctl", "delete the stream", err, v)

	// After all that, the stream and the durable consumer are whole.
	_, admin, _ := connectAs(t, urls["admin"], "admin")
	info, err := admin.Stream(ctx, "TICKETS")
	if err != nil || info.CachedInfo().State.Msgs < 2 {
		t.Fatalf("stream after the attempts: %v", err)
	}
	ci, err := admin.Consumer(ctx, "TICKETS", "cache-invalidator")
	if err != nil || ci.CachedInfo().Config.AckWait == time.Hour {
		t.Fatalf("durable consumer after the attempts: %+v %v", ci, err)
	}
}
