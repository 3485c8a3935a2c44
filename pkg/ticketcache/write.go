package ticketcache

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/redisconn"
)

// op is one single-key write: a script on key, or a DEL when script is nil.
type op struct {
	key    string
	script *redis.Script
	args   []any
}

func (o op) add(ctx context.Context, p redis.Pipeliner) redis.Cmder {
	if o.script == nil {
		return p.Del(ctx, o.key)
	}
	return o.script.EvalSha(ctx, p, []string{o.key}, o.args...)
}

// write sends ops in one round trip per node (go-redis splits a pipeline by
// slot on Cluster) and, with WaitReplicas, waits for the replicas of each
// node it wrote to. When Redis lost the scripts (a restart, SCRIPT FLUSH) it
// loads them and sends ops once more: every op may run twice, a fenced set
// and a bump both being safe to repeat. cmds are in ops' order.
func (c *Cache) write(ctx context.Context, ops []op) ([]redis.Cmder, error) {
	cmds, err := c.writeOnce(ctx, ops)
	if err != nil && noScript(cmds) {
		for _, s := range scripts {
			if lerr := s.Load(ctx, c.rdb).Err(); lerr != nil {
				return cmds, fmt.Errorf("load scripts: %w", lerr)
			}
		}
		cmds, err = c.writeOnce(ctx, ops)
	}
	// With WaitReplicas the writes go to each primary's own client, which
	// the Cluster client's reload hook (pkg/redisconn) never sees.
	redisconn.ReloadIfMoved(ctx, c.rdb, err)
	return cmds, err
}

func noScript(cmds []redis.Cmder) bool {
	for _, cmd := range cmds {
		if cmd != nil && redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			return true
		}
	}
	return false
}

// pipeliner is a client that sends a pipeline: the whole client, or on
// Cluster the client of one node, whose pipeline uses one connection.
type pipeliner interface {
	Pipelined(ctx context.Context, fn func(redis.Pipeliner) error) ([]redis.Cmder, error)
}

func (c *Cache) writeOnce(ctx context.Context, ops []op) ([]redis.Cmder, error) {
	cmds := make([]redis.Cmder, len(ops))
	if c.waitReplicas <= 0 {
		_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, o := range ops {
				cmds[i] = o.add(ctx, p)
			}
			return nil
		})
		return cmds, err
	}
	// WAIT counts the replicas that have the last write of its own
	// connection, so it follows the writes on the connection that sent them:
	// one pipeline per node.
	groups, err := c.byNode(ctx, ops)
	if err != nil {
		return cmds, err
	}
	for _, g := range groups {
		var wait *redis.Cmd
		if _, err := g.node.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range g.ops {
				cmds[i] = ops[i].add(ctx, p)
			}
			wait = p.Do(ctx, "wait", c.waitReplicas, c.waitTimeout.Milliseconds())
			return nil
		}); err != nil {
			return cmds, err
		}
		if n, _ := wait.Int(); n < c.waitReplicas {
			return cmds, fmt.Errorf("%w: %d of %d within %v", ErrNotReplicated, n, c.waitReplicas, c.waitTimeout)
		}
	}
	return cmds, nil
}

type nodeOps struct {
	node pipeliner
	ops  []int // indexes into the ops
}

// byNode groups ops by the primary that holds their key: one group for a
// single node. A slot that moves meanwhile fails its op with MOVED, a
// failure like any other.
func (c *Cache) byNode(ctx context.Context, ops []op) ([]nodeOps, error) {
	cc, ok := c.rdb.(*redis.ClusterClient)
	if !ok {
		all := make([]int, len(ops))
		for i := range ops {
			all[i] = i
		}
		return []nodeOps{{node: c.rdb, ops: all}}, nil
	}
	var groups []nodeOps
	at := map[*redis.Client]int{}
	for i, o := range ops {
		master, err := cc.MasterForKey(ctx, o.key)
		if err != nil {
			return nil, err
		}
		j, seen := at[master]
		if !seen {
			j = len(groups)
			at[master] = j
			groups = append(groups, nodeOps{node: master})
		}
		groups[j].ops = append(groups[j].ops, i)
	}
	return groups, nil
}
