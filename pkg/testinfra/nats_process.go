package testinfra

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// rootModule is the module whose go.mod pins the nats-server version NATSServerBinary builds, and whose
// directory holds the .cache the binary is kept in.
const rootModule = "github.com/ticketsys/ticketsys"

const (
	// natsStartTimeout is how long a nats-server process gets to be healthy: a cluster's first start
	// includes a JetStream meta leader election, a restart the catch-up of its streams.
	natsStartTimeout = 30 * time.Second
	// natsStopTimeout is how long a SIGTERM'd nats-server gets to shut down before it is killed.
	natsStopTimeout = 15 * time.Second
	// processLogTail is how much of each process's output a failed test prints: the end is where the
	// reason is, and a whole server log would bury it.
	processLogTail = 8 << 10
	// pollInterval is how often the cluster helpers ask the servers how they are.
	pollInterval = 50 * time.Millisecond
	// leaderQueryTimeout bounds each of WaitStreamLeader's questions: a request about a group that has
	// no leader goes unanswered, so asking again soon finds a new leader sooner than waiting out the
	// client's default timeout would. A healthy cluster answers in milliseconds.
	leaderQueryTimeout = 500 * time.Millisecond
)

// natsBinary is NATSServerBinary's answer, worked out once per test process.
var natsBinary struct {
	once sync.Once
	path string
	err  error
}

// NATSServerBinary returns the path of a nats-server executable of the version go.mod pins (the very
// server package the embedded NATSServer links), for tests that need it as an OS process: one they can
// SIGKILL, or several forming a cluster. It is found, or built with the go command, once per test
// process, in the repository's .cache/bin/nats-server-v<version> when that is writable, so that later
// runs reuse it (a cached binary is used only if its --version says the pinned version), otherwise in
// the user's cache directory. The first build can take minutes on a cold Go build cache.
func NATSServerBinary(t testing.TB) string {
	t.Helper()
	natsBinary.once.Do(func() { natsBinary.path, natsBinary.err = buildNATSServer() })
	if natsBinary.err != nil {
		t.Fatalf("testinfra.NATSServerBinary: %v", natsBinary.err)
	}
	return natsBinary.path
}

func buildNATSServer() (string, error) {
	version := "v" + server.VERSION
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dirs := []string{filepath.Join(root, ".cache", "bin")}
	if d, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(d, "ticketsys-testinfra"))
	}
	dirs = append(dirs, filepath.Join(os.TempDir(), "ticketsys-testinfra"))
	var tried []string
	for _, dir := range dirs {
		bin := filepath.Join(dir, "nats-server-"+version)
		if natsBinaryVersion(bin) == version {
			return bin, nil
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			tried = append(tried, err.Error())
			continue
		}
		// Built under a private name and renamed into place, so that the test processes go test runs in
		// parallel never run a half-written binary.
		tmp, err := os.MkdirTemp(dir, ".nats-server-build-")
		if err != nil {
			tried = append(tried, err.Error())
			continue
		}
		err = goBuild(root, filepath.Join(tmp, "nats-server"), "github.com/nats-io/nats-server/v2")
		if err == nil {
			err = os.Rename(filepath.Join(tmp, "nats-server"), bin)
		}
		_ = os.RemoveAll(tmp)
		if err != nil {
			return "", err
		}
		if got := natsBinaryVersion(bin); got != version {
			return "", fmt.Errorf("built %s, but its --version says %q, not %s", bin, got, version)
		}
		return bin, nil
	}
	return "", fmt.Errorf("no writable directory to build nats-server %s into: %s", version, strings.Join(tried, "; "))
}

// goBuild builds pkg into out with the go command, in the module at root (whose go.mod pins pkg's
// version). go test puts its own toolchain first on PATH, so this is the toolchain the test was built
// with.
func goBuild(root, out, pkg string) error {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building %s needs the go command on PATH (install Go from https://go.dev/dl/): %w", pkg, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -o %s %s (in %s): %w\n%s", out, pkg, root, err, b)
	}
	return nil
}

// natsBinaryVersion returns what bin --version says its version is ("v2.15.2"), or "" if bin does not
// exist or does not run.
func natsBinaryVersion(bin string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return ""
	}
	f := strings.Fields(string(out)) // "nats-server: v2.15.2"
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// moduleRoot returns the directory of rootModule's go.mod, looked for from the working directory (a
// test's is its package's directory) upwards.
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if goModDeclares(filepath.Join(dir, "go.mod"), rootModule) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s in %s or above it; run the test from inside the repository", rootModule, wd)
		}
		dir = parent
	}
}

func goModDeclares(path, module string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == module
		}
	}
	return false
}

// NATSClusterOptions are the settings of StartNATSCluster; the zero value is a good default.
type NATSClusterOptions struct {
	// ClusterName names the cluster (the cluster block's name); "" is "testinfra".
	ClusterName string
	// SyncInterval is JetStream's sync_interval, how often the file store fsyncs: "always" syncs every
	// write before it is acknowledged, as a deployment that must not lose an acknowledged message to a
	// machine crash may run, or a duration such as "10s". "" leaves the server's default (2 minutes).
	// Killing a process is not a machine crash: what it had written survives in the page cache either
	// way, so this changes how (and how fast) the servers write rather than what a Kill loses.
	SyncInterval string
}

// NATSCluster is a NATS JetStream cluster of nats-server processes (NATSServerBinary) on 127.0.0.1,
// for chaos tests: a node can be killed with SIGKILL, as a crashed machine is, which an embedded
// server cannot be, and started again with the same ports and store. Nodes are numbered from 0; their
// server names are n1, n2, ... Every process is killed in t.Cleanup, and a failed test's log ends with
// the tail of each node's output.
type NATSCluster struct {
	t   testing.TB // Stop's failures are reported here
	bin string

	mu    sync.Mutex
	nodes []*natsNode
}

type natsNode struct {
	name                              string
	clientPort, clusterPort, httpPort int
	conf                              string
	out                               *SyncBuffer // every run's output, one after the other

	childProcess
}

// StartNATSCluster starts n nats-server processes with JetStream on, each with its own client, route
// and monitoring port and its own store under t.TempDir(), routed to each other, and returns once every
// node is healthy and they have elected a JetStream meta leader. n == 1 is a single server with no
// cluster block (no Raft; streams are R1), still a process that can be killed.
func StartNATSCluster(t testing.TB, n int, opts NATSClusterOptions) *NATSCluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("testinfra.StartNATSCluster: %d nodes; want at least 1", n)
	}
	c := &NATSCluster{t: t, bin: NATSServerBinary(t)}
	dir := t.TempDir()
	ports := freePorts(t, 3*n)
	for i := range n {
		c.nodes = append(c.nodes, &natsNode{
			name:       "n" + strconv.Itoa(i+1),
			clientPort: ports[3*i], clusterPort: ports[3*i+1], httpPort: ports[3*i+2],
			conf: filepath.Join(dir, "n"+strconv.Itoa(i+1)+".conf"),
			out:  &SyncBuffer{},
		})
	}
	for i, node := range c.nodes {
		conf := c.config(i, filepath.Join(dir, node.name), opts)
		if err := os.WriteFile(node.conf, []byte(conf), 0o600); err != nil {
			t.Fatalf("testinfra.StartNATSCluster: %v", err)
		}
	}
	t.Cleanup(func() { // registered after TempDir's, so it runs before the directory is removed
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, node := range c.nodes {
			node.kill()
		}
		if t.Failed() {
			for _, node := range c.nodes {
				t.Logf("nats-server %s (client port %d), end of its output:\n%s", node.name, node.clientPort, node.out.Tail(processLogTail))
			}
		}
	})

	c.mu.Lock()
	defer c.mu.Unlock()
	for i, node := range c.nodes {
		if err := c.startLocked(i); err != nil {
			t.Fatalf("testinfra.StartNATSCluster: starting %s: %v", node.name, err)
		}
	}
	for i, node := range c.nodes {
		if err := c.waitHealthyLocked(i); err != nil {
			t.Fatalf("testinfra.StartNATSCluster: %s: %v", node.name, err)
		}
	}
	return c
}

// config is node i's configuration file.
func (c *NATSCluster) config(i int, store string, opts NATSClusterOptions) string {
	node := c.nodes[i]
	var b strings.Builder
	fmt.Fprintf(&b, "server_name: %s\n", node.name)
	fmt.Fprintf(&b, "listen: \"127.0.0.1:%d\"\n", node.clientPort)
	fmt.Fprintf(&b, "http: \"127.0.0.1:%d\"\n", node.httpPort)
	b.WriteString("jetstream {\n")
	fmt.Fprintf(&b, "  store_dir: %s\n", strconv.Quote(store))
	if opts.SyncInterval != "" {
		fmt.Fprintf(&b, "  sync_interval: %s\n", strconv.Quote(opts.SyncInterval))
	}
	b.WriteString("}\n")
	if len(c.nodes) > 1 {
		name := opts.ClusterName
		if name == "" {
			name = "testinfra"
		}
		b.WriteString("cluster {\n")
		fmt.Fprintf(&b, "  name: %s\n", strconv.Quote(name))
		fmt.Fprintf(&b, "  listen: \"127.0.0.1:%d\"\n", node.clusterPort)
		b.WriteString("  routes: [\n")
		for j, other := range c.nodes {
			if j != i {
				fmt.Fprintf(&b, "    \"nats-route://127.0.0.1:%d\"\n", other.clusterPort)
			}
		}
		b.WriteString("  ]\n}\n")
	}
	return b.String()
}

// URLs returns each node's client URL, nats://127.0.0.1:<port>, in node order; they stay the same
// across Kill, Stop and Start.
func (c *NATSCluster) URLs() []string {
	urls := make([]string, len(c.nodes))
	for i, node := range c.nodes {
		urls[i] = "nats://127.0.0.1:" + strconv.Itoa(node.clientPort)
	}
	return urls
}

// URL returns all client URLs joined by commas, the form NATS_URL and nats.Connect take: a client
// given it fails over to another node when its own dies.
func (c *NATSCluster) URL() string { return strings.Join(c.URLs(), ",") }

// MonitoringURL returns node i's monitoring endpoint, http://127.0.0.1:<port> (/healthz, /jsz, ...).
func (c *NATSCluster) MonitoringURL(i int) string {
	return "http://127.0.0.1:" + strconv.Itoa(c.nodes[i].httpPort)
}

// Running reports whether node i's process is running (it may still be starting).
func (c *NATSCluster) Running(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i].running()
}

// Kill sends node i SIGKILL, as a crash or a lost machine would end it, and returns once the process
// has exited. Killing a node that is not running does nothing.
func (c *NATSCluster) Kill(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes[i].kill()
}

// Stop sends node i SIGTERM, a graceful shutdown (as an orchestrator's stop is), and returns once the
// process has exited; it is killed, and the test fails, if it has not exited after 15 s. Stopping a node
// that is not running does nothing. Call it from the test's goroutine.
func (c *NATSCluster) Stop(i int) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	node := c.nodes[i]
	if !node.running() {
		return
	}
	_ = node.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-node.exited:
	case <-time.After(natsStopTimeout):
		node.kill()
		c.t.Fatalf("testinfra: nats-server %s still running %v after SIGTERM, killed it: %s", node.name, natsStopTimeout, node.out.Tail(processLogTail))
	}
}

// Start starts a killed or stopped node i again with its ports and store, and returns once it is healthy
// (/healthz with JetStream: it has a meta leader and has caught up with it and with the streams it
// holds), that is, once it has rejoined the cluster. Starting a running node does nothing.
func (c *NATSCluster) Start(t testing.TB, i int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	node := c.nodes[i]
	if node.running() {
		return
	}
	fmt.Fprintf(node.out, "--- testinfra: starting %s again ---\n", node.name)
	if err := c.startLocked(i); err != nil {
		t.Fatalf("testinfra: restarting nats-server %s: %v", node.name, err)
	}
	if err := c.waitHealthyLocked(i); err != nil {
		t.Fatalf("testinfra: restarting nats-server %s: %v", node.name, err)
	}
}

func (c *NATSCluster) startLocked(i int) error {
	node := c.nodes[i]
	cmd := exec.Command(c.bin, "-c", node.conf)
	cmd.Stdout, cmd.Stderr = node.out, node.out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // a killed server exits non-zero
		close(exited)
	}()
	node.cmd, node.exited = cmd, exited
	return nil
}

// waitHealthyLocked waits until node i's /healthz says ok and, in a cluster, its /jsz names a meta
// leader in a meta group of all the nodes.
func (c *NATSCluster) waitHealthyLocked(i int) error {
	node := c.nodes[i]
	base := "http://127.0.0.1:" + strconv.Itoa(node.httpPort)
	hc := &http.Client{Timeout: time.Second}
	err := retryUntil(context.Background(), natsStartTimeout, func() error {
		if !node.running() {
			return errStop{errors.New("the process exited")}
		}
		var health struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		code, err := getJSON(hc, base+"/healthz", &health)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("/healthz: %d %s %s", code, health.Status, health.Error)
		}
		if len(c.nodes) == 1 {
			return nil
		}
		var jsz struct {
			Meta *struct {
				Leader string `json:"leader"`
				Size   int    `json:"cluster_size"`
			} `json:"meta_cluster"`
		}
		if _, err := getJSON(hc, base+"/jsz", &jsz); err != nil {
			return err
		}
		if jsz.Meta == nil || jsz.Meta.Leader == "" {
			return errors.New("/jsz: no JetStream meta leader")
		}
		if jsz.Meta.Size != len(c.nodes) {
			return fmt.Errorf("/jsz: meta group of %d, want %d", jsz.Meta.Size, len(c.nodes))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("not healthy within %v: %w; end of its output:\n%s", natsStartTimeout, err, node.out.Tail(processLogTail))
	}
	return nil
}

// StreamLeader returns the index of the node that leads stream now, as the stream's info says (a
// single server leads all its streams). Right after the leader was killed the answer may still name it,
// or there may be no leader (an error); WaitStreamLeader waits for a live one.
func (c *NATSCluster) StreamLeader(ctx context.Context, stream string) (int, error) {
	js, done, err := c.connect()
	if err != nil {
		return -1, err
	}
	defer done()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return -1, err
	}
	return c.leader(s.CachedInfo().Cluster, "stream "+stream)
}

// ConsumerLeader returns the index of the node that leads the consumer of stream now; see StreamLeader.
func (c *NATSCluster) ConsumerLeader(ctx context.Context, stream, consumer string) (int, error) {
	js, done, err := c.connect()
	if err != nil {
		return -1, err
	}
	defer done()
	cons, err := js.Consumer(ctx, stream, consumer)
	if err != nil {
		return -1, err
	}
	return c.leader(cons.CachedInfo().Cluster, "consumer "+stream+" > "+consumer)
}

// WaitStreamLeader waits until stream has a leader on a running node (after a Kill: a new one) and
// returns its index, or ctx's error with what the cluster said last.
func (c *NATSCluster) WaitStreamLeader(ctx context.Context, stream string) (int, error) {
	return c.waitLeader(ctx, func(ctx context.Context) (int, error) { return c.StreamLeader(ctx, stream) })
}

// WaitConsumerLeader is WaitStreamLeader for a consumer.
func (c *NATSCluster) WaitConsumerLeader(ctx context.Context, stream, consumer string) (int, error) {
	return c.waitLeader(ctx, func(ctx context.Context) (int, error) { return c.ConsumerLeader(ctx, stream, consumer) })
}

func (c *NATSCluster) waitLeader(ctx context.Context, leader func(context.Context) (int, error)) (int, error) {
	found := -1
	err := retryUntil(ctx, 0, func() error {
		ctx, cancel := context.WithTimeout(ctx, leaderQueryTimeout)
		defer cancel()
		i, err := leader(ctx)
		if err != nil {
			return err
		}
		if !c.Running(i) {
			return fmt.Errorf("leader is %s, which is not running", c.nodes[i].name)
		}
		found = i
		return nil
	})
	return found, err
}

// MoveStreamLeader makes node to the leader of stream (a leader step-down with to as the preferred
// successor, asked again every 2 s while another node leads) and returns once the stream's info names
// it; for chaos tests that want to kill the leader, or a follower, on a node of their choosing, or to
// read a stream from a node that was down. A stream that to already leads is left alone.
func (c *NATSCluster) MoveStreamLeader(ctx context.Context, stream string, to int) error {
	var asked time.Time
	return retryUntil(ctx, 0, func() error {
		ctx, cancel := context.WithTimeout(ctx, leaderQueryTimeout)
		defer cancel()
		i, err := c.StreamLeader(ctx, stream)
		if err == nil && i == to {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("stream %s: leader is %s, not %s", stream, c.nodes[i].name, c.nodes[to].name)
		}
		if time.Since(asked) < 2*time.Second {
			return err
		}
		asked = time.Now()
		if serr := c.stepDown(ctx, stream, c.nodes[to].name); serr != nil {
			return fmt.Errorf("%w; %w", err, serr)
		}
		return err
	})
}

// stepDown asks stream's leader to step down in favour of the server named preferred.
func (c *NATSCluster) stepDown(ctx context.Context, stream, preferred string) error {
	js, done, err := c.connect()
	if err != nil {
		return err
	}
	defer done()
	req, err := json.Marshal(map[string]any{"placement": map[string]string{"preferred": preferred}})
	if err != nil {
		return err
	}
	msg, err := js.Conn().RequestWithContext(ctx, "$JS.API.STREAM.LEADER.STEPDOWN."+stream, req)
	if err != nil {
		return fmt.Errorf("leader step-down: %w", err)
	}
	var resp struct {
		Error *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("leader step-down: %q: %w", msg.Data, err)
	}
	if resp.Error != nil {
		return fmt.Errorf("leader step-down to %s: %s", preferred, resp.Error.Description)
	}
	return nil
}

// connect returns a JetStream client connected to a running node, and the function that closes it.
func (c *NATSCluster) connect() (jetstream.JetStream, func(), error) {
	var urls []string
	c.mu.Lock()
	for i, url := range c.URLs() {
		if c.nodes[i].running() {
			urls = append(urls, url)
		}
	}
	c.mu.Unlock()
	if len(urls) == 0 {
		return nil, nil, errors.New("no nats-server is running")
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.Timeout(time.Second), nats.NoReconnect())
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return js, nc.Close, nil
}

// leader maps a group's leader (a server name) to a node index.
func (c *NATSCluster) leader(ci *jetstream.ClusterInfo, what string) (int, error) {
	if len(c.nodes) == 1 {
		return 0, nil
	}
	if ci == nil || ci.Leader == "" {
		return -1, fmt.Errorf("%s has no leader", what)
	}
	for i, node := range c.nodes {
		if node.name == ci.Leader {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%s: leader %q is none of this cluster's nodes", what, ci.Leader)
}

// freePorts returns n distinct ports that were free on 127.0.0.1 a moment ago. They are found by
// listening on port 0 and closing the listeners, so another process could take one before the test's
// server binds it; that is rare enough (the kernel hands out ephemeral ports in turn) to accept.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testinfra: finding a free port: %v", err)
		}
		defer ln.Close() // held until all are found, so that none is handed out twice
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// getJSON GETs url and decodes its JSON body (also that of an error status) into v.
func getJSON(hc *http.Client, url string, v any) (int, error) {
	resp, err := hc.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return resp.StatusCode, fmt.Errorf("%s: %d %q: %w", url, resp.StatusCode, b, err)
	}
	return resp.StatusCode, nil
}

// errStop is an error that retryUntil returns at once instead of trying again.
type errStop struct{ error }

func (e errStop) Unwrap() error { return e.error }

// retryUntil calls f every pollInterval until it returns nil, or returns f's last error once ctx is done
// or timeout (if not 0) has passed, or at once if f returns an errStop.
func retryUntil(ctx context.Context, timeout time.Duration, f func() error) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return nil
		}
		var stop errStop
		if errors.As(err, &stop) {
			return stop.error
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}
