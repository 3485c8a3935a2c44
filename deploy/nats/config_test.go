// Package nats_test checks the NATS server configurations with the pinned
// nats-server's own parser (the version of the root go.mod and of compose's
// image): a misspelt key or a bad value fails here, not on a node at start.
package nats_test

import (
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	corev1 "k8s.io/api/core/v1"

	"github.com/ticketsys/ticketsys/deploy/kube"
)

// dir is deploy/nats, found from this file so tests run from anywhere.
func dir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Dir(file)
}

// load parses a config file as nats-server does (warnings are not errors,
// as for the server), then validates the options as the server does before it
// starts.
func load(t *testing.T, name string) *server.Options {
	t.Helper()
	opts, err := server.ProcessConfigFile(filepath.Join(dir(t), name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	// NewServer validates the options (cluster, JetStream, lame duck) without
	// listening or touching the store; Start is never called.
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("%s: nats-server refuses the options: %v", name, err)
	}
	s.Shutdown()
	return opts
}

// The compose stack's server (with auth.conf included): JetStream on, every
// write fsynced.
func TestComposeConfigParses(t *testing.T) {
	for _, v := range []string{"NATS_COMMAND_PASSWORD", "NATS_INVALIDATOR_PASSWORD", "NATS_TICKETCTL_PASSWORD", "NATS_ADMIN_PASSWORD"} {
		t.Setenv(v, "test-password")
	}
	opts := load(t, "nats.conf")
	if !opts.JetStream || !opts.SyncAlways {
		t.Errorf("nats.conf: jetstream %v, sync always %v; want both", opts.JetStream, opts.SyncAlways)
	}
	if len(opts.Users) < 4 {
		t.Errorf("nats.conf: %d users, want auth.conf's", len(opts.Users))
	}
}

// The production nodes' configuration: a JetStream cluster of three, every
// acknowledged message on disk, lame duck short enough for a rolling restart,
// and routes to the very nodes the overlay's NATS_URL names.
func TestClusterConfig(t *testing.T) {
	t.Setenv("SERVER_NAME", "nats-1")
	opts := load(t, "cluster.conf")
	if opts.ServerName != "nats-1" {
		t.Errorf("server_name %q, want SERVER_NAME from the environment", opts.ServerName)
	}
	if !opts.JetStream || opts.StoreDir == "" {
		t.Errorf("jetstream %v, store_dir %q: want JetStream on a store", opts.JetStream, opts.StoreDir)
	}
	if !opts.SyncAlways {
		t.Error("jetstream sync_interval is not always: an acknowledged event could be lost on power loss")
	}
	if opts.Cluster.Name == "" || opts.Cluster.Port != 6222 {
		t.Errorf("cluster name %q port %d, want a named cluster on 6222", opts.Cluster.Name, opts.Cluster.Port)
	}
	if opts.LameDuckDuration != 30*time.Second || opts.LameDuckGracePeriod != 10*time.Second {
		t.Errorf("lame duck %v after %v, want 30s after 10s", opts.LameDuckDuration, opts.LameDuckGracePeriod)
	}

	var routes []string
	for _, r := range opts.Routes {
		if r.Port() != "6222" {
			t.Errorf("route %s is not on the cluster port 6222", r)
		}
		routes = append(routes, r.Hostname())
	}
	slices.Sort(routes)

	objs, _, err := kube.Render(filepath.Join(dir(t), "..", "k8s", "overlays", "production"))
	if err != nil {
		t.Fatal(err)
	}
	var natsURL string
	for _, o := range objs {
		if cm, ok := o.Obj.(*corev1.ConfigMap); ok && strings.HasPrefix(cm.Name, "ticketsys-config-") {
			natsURL = cm.Data["NATS_URL"]
		}
	}
	var clients []string
	for _, s := range strings.Split(natsURL, ",") {
		u, err := url.Parse(s)
		if err != nil || u.Port() != "4222" {
			t.Errorf("overlay NATS_URL: %q is not a nats:// URL on 4222", s)
			continue
		}
		clients = append(clients, u.Hostname())
	}
	slices.Sort(clients)
	if len(routes) != 3 || !slices.Equal(routes, clients) {
		t.Errorf("cluster.conf routes to %v, the overlay's NATS_URL names %v: want the same three nodes", routes, clients)
	}
}
