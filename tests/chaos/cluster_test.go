package chaos

import (
	"context"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/ticketcache"
)

// TestChaosCluster is the cluster form: a 3-node NATS cluster with the
// streams at R3, a Redis Cluster of 3 masters with a replica each, and two
// instances of every service; a leader or a master is killed under load.
func TestChaosCluster(t *testing.T) {
	d := phases()
	for _, sc := range clusterScenarios() {
		t.Run(sc.name, func(t *testing.T) { runScenario(t, sc, d) })
	}
}

func clusterScenarios() []scenario {
	cluster := systemOptions{cluster: true, instances: 2}
	// natsLeaderKill kills the node leading what leader names, and returns
	// the window from the kill to the election of the next leader: the
	// invalidator must be caught up within the fresh bound after that.
	natsLeaderKill := func(leader func(r *run, ctx context.Context) (int, error)) func(r *run) window {
		return func(r *run) window {
			ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
			defer cancel()
			node, err := leader(r, ctx)
			if err != nil {
				r.t.Fatalf("finding the leader: %v", err)
			}
			from := time.Now()
			r.s.nats.Kill(node)
			next, err := r.s.nats.WaitStreamLeader(ctx, "TICKETS")
			if err != nil {
				r.t.Fatalf("no new stream leader after killing n%d: %v", node+1, err)
			}
			cnext, err := r.s.nats.WaitConsumerLeader(ctx, "TICKETS", "cache-invalidator")
			if err != nil {
				r.t.Fatalf("no new consumer leader after killing n%d: %v", node+1, err)
			}
			elected := time.Now()
			r.t.Logf("killed n%d; stream leader n%d, consumer leader n%d after %v",
				node+1, next+1, cnext+1, elected.Sub(from).Round(time.Millisecond))
			return window{from, elected}
		}
	}
	return []scenario{
		{
			name:     "nats-stream-leader-sigkill",
			opts:     cluster,
			converge: true,
			fault: natsLeaderKill(func(r *run, ctx context.Context) (int, error) {
				return r.s.nats.StreamLeader(ctx, "TICKETS")
			}),
		},
		{
			name:     "nats-consumer-leader-sigkill",
			opts:     cluster,
			converge: true,
			fault: natsLeaderKill(func(r *run, ctx context.Context) (int, error) {
				return r.s.nats.ConsumerLeader(ctx, "TICKETS", "cache-invalidator")
			}),
		},
		{
			name:     "redis-master-sigkill",
			opts:     cluster,
			converge: true,
			fault: func(r *run) window {
				ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
				defer cancel()
				// The master of a hot ticket's key: it is written and read all the time.
				key := ticketcache.Keys{}.Ticket(r.l.ids[0])
				master, err := r.s.rc.MasterOf(ctx, key)
				if err != nil {
					r.t.Fatal(err)
				}
				from := time.Now()
				r.s.rc.Kill(master)
				next, err := r.s.rc.WaitFailover(ctx, key, master)
				if err != nil {
					r.t.Fatalf("no failover after killing master %d: %v", master, err)
				}
				done := time.Now()
				r.t.Logf("killed Redis master %d; node %d took over after %v", master, next, done.Sub(from).Round(time.Millisecond))
				return window{from, done}
			},
		},
	}
}
