package testinfra

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// redisClusterTimeout is how long a Redis Cluster gets to settle: all slots served, every node
	// known to every other, every replica in sync. With a node timeout of 1 s that takes a few seconds.
	redisClusterTimeout = 30 * time.Second
	// redisClusterSlots is the number of hash slots of a Redis Cluster.
	redisClusterSlots = 16384
)

// RedisCluster is a Redis Cluster of redis-server processes (the machine's binaries, Redis 7.0 or
// newer) on 127.0.0.1, for chaos tests: a node can be killed with SIGKILL, so that its replica takes
// over its slots, and started again with the same port and directory, so that it rejoins with its
// nodes.conf (an old master as a replica of the node that replaced it). Nodes are numbered from 0 in
// Addrs order. A node keeps no data across a restart (no RDB, no AOF): a restarted node gets its data
// from its master, as a replaced cache node would. Every process is killed in t.Cleanup, and a failed
// test's log ends with the tail of each node's log.
type RedisCluster struct {
	t      testing.TB
	server string // redis-server

	mu    sync.Mutex
	nodes []*redisNode
}

type redisNode struct {
	port, busPort int
	dir           string
	out           *SyncBuffer   // what redis-server prints before its log file is open
	admin         *redis.Client // for CLUSTER and INFO; it reconnects across restarts

	childProcess
}

// StartRedisCluster starts masters × (1 + replicasPerMaster) redis-server processes with cluster mode
// on (a node timeout of 1 s, so that a failover takes a few seconds) and their own directory under
// t.TempDir(), creates the cluster with redis-cli --cluster create, and returns once every node says
// cluster_state:ok, all 16384 slots are served, every node knows every other and every replica is in
// sync with its master. masters must be at least 3, as redis-cli requires. The test fails at once,
// saying what to install, if redis-server or redis-cli is missing or older than 7.0.
func StartRedisCluster(t testing.TB, masters, replicasPerMaster int) *RedisCluster {
	t.Helper()
	if masters < 3 || replicasPerMaster < 0 {
		t.Fatalf("testinfra.StartRedisCluster: %d masters with %d replicas each; a Redis Cluster needs at least 3 masters", masters, replicasPerMaster)
	}
	c := &RedisCluster{t: t, server: redisBinary(t, "redis-server")}
	cli := redisBinary(t, "redis-cli")
	dir := t.TempDir()
	n := masters * (1 + replicasPerMaster)
	ports := freePorts(t, 2*n)
	for i := range n {
		node := &redisNode{
			// The bus port is set, not left at port+10000: a free port above 55535 has no such
			// neighbour.
			port: ports[2*i], busPort: ports[2*i+1],
			dir: filepath.Join(dir, "node"+strconv.Itoa(i)),
			out: &SyncBuffer{},
		}
		if err := os.Mkdir(node.dir, 0o755); err != nil {
			t.Fatalf("testinfra.StartRedisCluster: %v", err)
		}
		// The callers poll: a question to a node that is not up should fail at once, not be retried.
		node.admin = redis.NewClient(&redis.Options{
			Addr: node.addr(), MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second, ReadTimeout: 2 * time.Second,
		})
		c.nodes = append(c.nodes, node)
	}
	t.Cleanup(func() { // registered after TempDir's, so it runs before the directory is removed
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, node := range c.nodes {
			node.kill()
			_ = node.admin.Close()
		}
		if t.Failed() {
			for i, node := range c.nodes {
				t.Logf("redis-server node %d (%s), end of its log:\n%s", i, node.addr(), node.logTail())
			}
		}
	})

	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.nodes {
		if err := c.startLocked(i); err != nil {
			t.Fatalf("testinfra.StartRedisCluster: %v", err)
		}
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicasPerMaster), "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), redisClusterTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("testinfra.StartRedisCluster: redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if err := retryUntil(ctx, 0, func() error { return c.settledLocked(ctx, true) }); err != nil {
		t.Fatalf("testinfra.StartRedisCluster: the cluster did not settle within %v: %v", redisClusterTimeout, err)
	}
	return c
}

// redisBinary finds the machine's name (redis-server, redis-cli) as StartRedisServer does, and checks
// that it is Redis 7.0 or newer (cluster-port, CLUSTER SHARDS).
func redisBinary(t testing.TB, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		bin = "/usr/bin/" + name
		if _, serr := os.Stat(bin); serr != nil {
			t.Fatalf("testinfra.StartRedisCluster: this test runs a Redis Cluster of its own and needs %s (Redis 7.0 or "+
				"newer) on PATH or at %s (Debian and Ubuntu: apt-get install redis-server redis-tools): %v", name, bin, err)
		}
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("testinfra.StartRedisCluster: %s --version: %v", bin, err)
	}
	// "Redis server v=7.0.15 sha=..." or "redis-cli 7.0.15"
	var major int
	for f := range strings.FieldsSeq(string(out)) {
		f = strings.TrimPrefix(f, "v=")
		if m, _, ok := strings.Cut(f, "."); ok {
			if v, err := strconv.Atoi(m); err == nil {
				major = v
				break
			}
		}
	}
	if major < 7 {
		t.Fatalf("testinfra.StartRedisCluster: %s is %q; a Redis Cluster of the test's own needs Redis 7.0 or newer "+
			"(Debian 12, Ubuntu 24.04: apt-get install redis-server redis-tools)", bin, strings.TrimSpace(string(out)))
	}
	return bin
}

// Addrs returns each node's address, 127.0.0.1:<port>, in node order; they stay the same across Kill
// and Start.
func (c *RedisCluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, node := range c.nodes {
		addrs[i] = node.addr()
	}
	return addrs
}

// URL returns the cluster's URL in the form redis.ParseClusterURL takes (and REDIS_URL with
// REDIS_CLUSTER=true): redis://<node 0>?addr=<node 1>&addr=<node 2>...
func (c *RedisCluster) URL() string {
	addrs := c.Addrs()
	var b strings.Builder
	b.WriteString("redis://" + addrs[0])
	for i, a := range addrs[1:] {
		if i == 0 {
			b.WriteString("?addr=" + a)
		} else {
			b.WriteString("&addr=" + a)
		}
	}
	return b.String()
}

// Client returns a cluster client made from URL, with go-redis's defaults as the services use them; it
// is closed at cleanup. Like the services' client, it learns of a failover only from a MOVED reply or
// its periodic reload (ClusterStateReloadInterval, 60 s by default in go-redis v9.23), not from the dead
// master's refused connections: a test that wants the new topology at once calls its ReloadState.
func (c *RedisCluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	opts, err := redis.ParseClusterURL(c.URL())
	if err != nil {
		t.Fatalf("testinfra: RedisCluster.Client: %v", err)
	}
	rdb := redis.NewClusterClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// Running reports whether node i's process is running.
func (c *RedisCluster) Running(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i].running()
}

// Kill sends node i SIGKILL and returns once the process has exited. Its data is gone; its nodes.conf
// stays. Killing a node that is not running does nothing.
func (c *RedisCluster) Kill(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes[i].kill()
}

// Start starts a killed node i again with its port and directory, and returns once it has rejoined:
// every running node knows it and none marks it failing, it agrees with them on which node serves
// which slots (an old master has become a replica of the node that took its slots) and on the cluster
// state, and, if it is a replica, it is in sync with its master. Starting a running node does nothing.
func (c *RedisCluster) Start(t testing.TB, i int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nodes[i].running() {
		return
	}
	if err := c.startLocked(i); err != nil {
		t.Fatalf("testinfra: restarting redis-server node %d: %v", i, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), redisClusterTimeout)
	defer cancel()
	if err := retryUntil(ctx, 0, func() error { return c.settledLocked(ctx, false) }); err != nil {
		t.Fatalf("testinfra: redis-server node %d did not rejoin within %v: %v; end of its log:\n%s", i, redisClusterTimeout, err, c.nodes[i].logTail())
	}
}

// MasterOf returns the index of the node that serves key's hash slot now: the running node that says
// it is a master and owns the slot (the one with the newest configuration epoch if, just after a
// failover, two do).
func (c *RedisCluster) MasterOf(ctx context.Context, key string) (int, error) {
	running := c.runningNodes()
	if len(running) == 0 {
		return -1, errors.New("no redis-server is running")
	}
	var slot int64
	var err error
	for _, i := range running {
		if slot, err = c.nodes[i].admin.ClusterKeySlot(ctx, key).Result(); err == nil {
			break
		}
	}
	if err != nil {
		return -1, fmt.Errorf("CLUSTER KEYSLOT %s: %w", key, err)
	}
	owner, epoch := -1, int64(-1)
	var errs []error
	for _, i := range running {
		view, err := c.view(ctx, i)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, l := range view {
			if l.has("myself") && l.has("master") && l.owns(int(slot)) && l.epoch > epoch {
				owner, epoch = i, l.epoch
			}
		}
	}
	if owner < 0 {
		return -1, fmt.Errorf("no running node serves slot %d of %q: %w", slot, key, errors.Join(errs...))
	}
	return owner, nil
}

// WaitFailover waits until key's slot is served by a node other than dead (after Kill(dead): its
// replica, promoted) that says it is a master, and every running node says cluster_state:ok and names
// that node as the slot's master; it returns the node's index, or ctx's error with what the cluster said
// last.
func (c *RedisCluster) WaitFailover(ctx context.Context, key string, dead int) (int, error) {
	found := -1
	err := retryUntil(ctx, 0, func() error {
		m, err := c.MasterOf(ctx, key)
		if err != nil {
			return err
		}
		if m == dead {
			return fmt.Errorf("%q is still served by node %d", key, dead)
		}
		slot, err := c.nodes[m].admin.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			return err
		}
		for _, i := range c.runningNodes() {
			info, err := c.clusterInfo(ctx, i)
			if err != nil {
				return err
			}
			if info["cluster_state"] != "ok" {
				return fmt.Errorf("node %d: cluster_state:%s", i, info["cluster_state"])
			}
			view, err := c.view(ctx, i)
			if err != nil {
				return err
			}
			if o := view.owner(int(slot)); o != c.nodes[m].addr() {
				return fmt.Errorf("node %d says slot %d is served by %q, not %s", i, slot, o, c.nodes[m].addr())
			}
		}
		found = m
		return nil
	})
	return found, err
}

// ReplicaOf returns the index of the node that node i replicates, or -1 if node i is a master.
func (c *RedisCluster) ReplicaOf(ctx context.Context, i int) (int, error) {
	info, err := c.replication(ctx, i)
	if err != nil {
		return -1, err
	}
	switch info["role"] {
	case "master":
		return -1, nil
	case "slave":
		addr := net.JoinHostPort(info["master_host"], info["master_port"])
		for j, node := range c.nodes {
			if node.addr() == addr {
				return j, nil
			}
		}
		return -1, fmt.Errorf("node %d replicates %s, which is none of this cluster's nodes", i, addr)
	default:
		return -1, fmt.Errorf("node %d: role %q", i, info["role"])
	}
}

// WaitReplicated waits until every running replica has received everything its master had written
// when it was called, so that a test's writes are not lost to asynchronous replication when it then
// kills a master.
func (c *RedisCluster) WaitReplicated(ctx context.Context) error {
	want := map[string]int64{} // master address → master_repl_offset
	for _, i := range c.runningNodes() {
		info, err := c.replication(ctx, i)
		if err != nil {
			return err
		}
		if info["role"] == "master" {
			off, err := strconv.ParseInt(info["master_repl_offset"], 10, 64)
			if err != nil {
				return fmt.Errorf("node %d: master_repl_offset %q", i, info["master_repl_offset"])
			}
			want[c.nodes[i].addr()] = off
		}
	}
	return retryUntil(ctx, 0, func() error {
		for _, i := range c.runningNodes() {
			info, err := c.replication(ctx, i)
			if err != nil {
				return err
			}
			if info["role"] != "slave" {
				continue
			}
			master := net.JoinHostPort(info["master_host"], info["master_port"])
			off, _ := strconv.ParseInt(info["slave_repl_offset"], 10, 64)
			if w, ok := want[master]; ok && (info["master_link_status"] != "up" || off < w) {
				return fmt.Errorf("node %d is at offset %d of %s's %d (link %s)", i, off, master, w, info["master_link_status"])
			}
		}
		return nil
	})
}

func (c *RedisCluster) startLocked(i int) error {
	node := c.nodes[i]
	cmd := exec.Command(c.server,
		"--port", strconv.Itoa(node.port), "--bind", "127.0.0.1", "--dir", node.dir, "--daemonize", "no",
		"--logfile", filepath.Join(node.dir, "redis.log"), "--loglevel", "notice",
		"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-port", strconv.Itoa(node.busPort), "--cluster-node-timeout", "1000",
		// A replica takes over however long it has been out of touch with its master: in a test a
		// failover that does not happen is a hang, not a safety.
		"--cluster-replica-validity-factor", "0",
		"--save", "", "--appendonly", "no",
		// Replicas sync at once instead of after the default 5 s wait for more replicas.
		"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")
	cmd.Dir = node.dir
	cmd.Stdout, cmd.Stderr = node.out, node.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", c.server, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // a killed server exits non-zero
		close(exited)
	}()
	node.cmd, node.exited = cmd, exited
	err := retryUntil(context.Background(), redisServerStartTimeout, func() error {
		if !node.running() {
			return errStop{errors.New("it exited")}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return node.admin.Ping(ctx).Err()
	})
	if err != nil {
		return fmt.Errorf("redis-server node %d on %s never answered PING: %w; end of its log:\n%s", i, node.addr(), err, node.logTail())
	}
	return nil
}

// settledLocked returns nil once the running nodes agree: each knows all nodes and marks no running
// one as failing, they name the same masters for the same slots and report the same cluster_state
// (with wantOK: ok, with all slots served), and each running replica of a running master is in sync.
// Otherwise it says what is not so yet.
func (c *RedisCluster) settledLocked(ctx context.Context, wantOK bool) error {
	running := map[string]bool{} // by address
	for _, node := range c.nodes {
		running[node.addr()] = node.running()
	}
	var state, slots string
	first := true
	for i, node := range c.nodes {
		if !node.running() {
			continue
		}
		info, err := c.clusterInfo(ctx, i)
		if err != nil {
			return err
		}
		if wantOK && (info["cluster_state"] != "ok" || info["cluster_slots_ok"] != strconv.Itoa(redisClusterSlots)) {
			return fmt.Errorf("node %d: cluster_state:%s, cluster_slots_ok:%s", i, info["cluster_state"], info["cluster_slots_ok"])
		}
		if info["cluster_known_nodes"] != strconv.Itoa(len(c.nodes)) {
			return fmt.Errorf("node %d knows %s nodes, not %d", i, info["cluster_known_nodes"], len(c.nodes))
		}
		view, err := c.view(ctx, i)
		if err != nil {
			return err
		}
		for _, l := range view {
			if running[l.addr] && (l.has("fail") || l.has("fail?") || l.has("handshake") || l.has("noaddr")) {
				return fmt.Errorf("node %d sees %s as %s", i, l.addr, strings.Join(l.flags, ","))
			}
		}
		if first {
			state, slots, first = info["cluster_state"], view.slotMap(), false
		} else if info["cluster_state"] != state {
			return fmt.Errorf("node %d: cluster_state:%s, another node's: %s", i, info["cluster_state"], state)
		} else if s := view.slotMap(); s != slots {
			return fmt.Errorf("node %d says the slots are served by %s, another node says %s", i, s, slots)
		}
		repl, err := c.replication(ctx, i)
		if err != nil {
			return err
		}
		master := net.JoinHostPort(repl["master_host"], repl["master_port"])
		if repl["role"] == "slave" && running[master] && repl["master_link_status"] != "up" {
			return fmt.Errorf("node %d: replica of %s, master_link_status:%s", i, master, repl["master_link_status"])
		}
	}
	return nil
}

func (c *RedisCluster) runningNodes() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var running []int
	for i, node := range c.nodes {
		if node.running() {
			running = append(running, i)
		}
	}
	return running
}

func (c *RedisCluster) clusterInfo(ctx context.Context, i int) (map[string]string, error) {
	s, err := c.nodes[i].admin.ClusterInfo(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("node %d: CLUSTER INFO: %w", i, err)
	}
	return parseInfo(s), nil
}

func (c *RedisCluster) replication(ctx context.Context, i int) (map[string]string, error) {
	s, err := c.nodes[i].admin.Info(ctx, "replication").Result()
	if err != nil {
		return nil, fmt.Errorf("node %d: INFO replication: %w", i, err)
	}
	return parseInfo(s), nil
}

// view is node i's CLUSTER NODES.
func (c *RedisCluster) view(ctx context.Context, i int) (clusterView, error) {
	s, err := c.nodes[i].admin.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("node %d: CLUSTER NODES: %w", i, err)
	}
	return parseClusterNodes(s), nil
}

// parseInfo parses INFO and CLUSTER INFO's "key:value" lines.
func parseInfo(s string) map[string]string {
	m := map[string]string{}
	for line := range strings.Lines(s) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			m[k] = v
		}
	}
	return m
}

// clusterNode is a line of CLUSTER NODES: <id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent>
// <pong-recv> <config-epoch> <link-state> <slot>...
type clusterNode struct {
	addr  string
	flags []string
	epoch int64
	slots [][2]int // inclusive ranges
}

type clusterView []clusterNode

func parseClusterNodes(s string) clusterView {
	var v clusterView
	for line := range strings.Lines(s) {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		n := clusterNode{addr: addr, flags: strings.Split(f[2], ",")}
		n.epoch, _ = strconv.ParseInt(f[6], 10, 64)
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") { // a slot being migrated or imported
				continue
			}
			lo, hi, ok := strings.Cut(r, "-")
			if !ok {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 == nil && err2 == nil {
				n.slots = append(n.slots, [2]int{a, b})
			}
		}
		v = append(v, n)
	}
	return v
}

func (n clusterNode) has(flag string) bool { return slices.Contains(n.flags, flag) }

func (n clusterNode) owns(slot int) bool {
	for _, r := range n.slots {
		if r[0] <= slot && slot <= r[1] {
			return true
		}
	}
	return false
}

// owner returns the address of the master that serves slot in this view, or "".
func (v clusterView) owner(slot int) string {
	for _, n := range v {
		if n.has("master") && !n.has("fail") && n.owns(slot) {
			return n.addr
		}
	}
	return ""
}

// slotMap describes which master serves which slots, the same way for every view that agrees.
func (v clusterView) slotMap() string {
	var parts []string
	for _, n := range v {
		if n.has("master") && len(n.slots) > 0 {
			parts = append(parts, fmt.Sprintf("%s%v", n.addr, n.slots))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func (n *redisNode) addr() string { return "127.0.0.1:" + strconv.Itoa(n.port) }

// logTail returns the end of the node's log file and of what it printed itself.
func (n *redisNode) logTail() string {
	b, err := os.ReadFile(filepath.Join(n.dir, "redis.log"))
	if err != nil {
		b = []byte("(no log: " + err.Error() + ")\n")
	}
	if len(b) > processLogTail {
		b = b[len(b)-processLogTail:]
	}
	return string(b) + n.out.Tail(processLogTail)
}
