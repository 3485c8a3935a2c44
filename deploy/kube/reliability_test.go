package kube

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// envValue is a variable as a container sees it: a literal, or the Secret key
// it comes from.
type envValue struct {
	value  string
	secret string // "name/key" when from a secretKeyRef
}

// effectiveEnv resolves a Deployment's first container's environment as the
// kubelet does: the envFrom ConfigMaps first, env over them.
func effectiveEnv(t *testing.T, objs []Object, d *appsv1.Deployment) map[string]envValue {
	t.Helper()
	c := d.Spec.Template.Spec.Containers[0]
	out := map[string]envValue{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			continue
		}
		cm := find[*corev1.ConfigMap](t, objs, "ConfigMap", from.ConfigMapRef.Name)
		for k, v := range cm.Data {
			out[from.Prefix+k] = envValue{value: v}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			out[e.Name] = envValue{secret: e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key}
		case e.ValueFrom != nil:
			out[e.Name] = envValue{secret: "(not a literal)"}
		default:
			out[e.Name] = envValue{value: e.Value}
		}
	}
	return out
}

// The settings that make production behave as measured (R3 streams on the
// three-node NATS cluster, Redis in cluster mode, the invalidator's pull
// expiry and heartbeats, the second list bump behind a lagging replica, cache
// writes waited on by a replica) are in the overlay and reach the processes
// that read them: a refactoring of the overlay cannot drop one silently.
func TestProductionReliabilitySettings(t *testing.T) {
	t.Parallel()
	objs := render(t, "overlays/production")
	env := map[string]map[string]envValue{}
	for _, name := range []string{"command", "query", "cache-invalidator"} {
		env[name] = effectiveEnv(t, objs, find[*appsv1.Deployment](t, objs, "Deployment", name))
	}
	literal := func(svc, name string) string {
		t.Helper()
		v, ok := env[svc][name]
		switch {
		case !ok:
			t.Errorf("%s: %s is not set", svc, name)
		case v.secret != "":
			t.Errorf("%s: %s comes from %s, want a literal", svc, name, v.secret)
		}
		return v.value
	}
	duration := func(svc, name string) time.Duration {
		t.Helper()
		s := literal(svc, name)
		d, err := time.ParseDuration(s)
		if s != "" && err != nil {
			t.Errorf("%s: %s=%q is not a duration", svc, name, s)
		}
		return d
	}

	if v := literal("command", "STREAM_REPLICAS"); v != "3" {
		t.Errorf("command: STREAM_REPLICAS=%q, want 3 (three-node NATS cluster)", v)
	}
	if v := literal("cache-invalidator", "DLQ_REPLICAS"); v != "3" {
		t.Errorf("cache-invalidator: DLQ_REPLICAS=%q, want 3", v)
	}
	for _, svc := range []string{"command", "cache-invalidator"} {
		if urls := strings.Split(literal(svc, "NATS_URL"), ","); len(urls) < 3 {
			t.Errorf("%s: NATS_URL lists %d servers, want the three nodes", svc, len(urls))
		}
	}
	for _, svc := range []string{"query", "cache-invalidator"} {
		if v := literal(svc, "REDIS_CLUSTER"); v != "true" {
			t.Errorf("%s: REDIS_CLUSTER=%q, want true (ElastiCache in cluster mode)", svc, v)
		}
		// Every reader and writer of the cache on the same seeds.
		if v := env[svc]["REDIS_URL"]; v.secret != "ticketsys/redis-url" {
			t.Errorf("%s: REDIS_URL %+v, want Secret ticketsys key redis-url", svc, v)
		}
	}

	const inv = "cache-invalidator"
	if d := duration(inv, "LIST_REBUMP_DELAY"); d <= 0 {
		t.Errorf("%s: LIST_REBUMP_DELAY %v, want the read replica's worst lag (> 0)", inv, d)
	}
	expiry, hb := duration(inv, "PULL_EXPIRY"), duration(inv, "PULL_HEARTBEAT")
	if hb <= 0 || expiry <= 0 || 2*hb > expiry {
		t.Errorf("%s: PULL_HEARTBEAT %v, PULL_EXPIRY %v: want both set, the heartbeat at most half the expiry", inv, hb, expiry)
	}
	if expiry > 10*time.Second {
		t.Errorf("%s: PULL_EXPIRY %v: a lost pull request would stall the consumer that long", inv, expiry)
	}
	if n, err := strconv.Atoi(literal(inv, "REDIS_WAIT_REPLICAS")); err != nil || n < 1 {
		t.Errorf("%s: REDIS_WAIT_REPLICAS %d (%v), want at least 1", inv, n, err)
	}
}

// The example REDIS_URL is one go-redis's cluster parser takes, with several
// seeds, over TLS: what the overlay's REDIS_CLUSTER=true needs.
func TestExampleRedisURLHasSeeds(t *testing.T) {
	t.Parallel()
	objs, err := DecodeFile(filepath.Join(k8sDir(t), "secret.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var url string
	for _, o := range objs {
		if s, ok := o.(*corev1.Secret); ok && s.Name == "ticketsys" {
			url = s.StringData["redis-url"]
		}
	}
	opts, err := redis.ParseClusterURL(url)
	if err != nil {
		t.Fatalf("redis-url %q: %v", url, err)
	}
	if len(opts.Addrs) < 3 {
		t.Errorf("redis-url has seeds %v, want at least 3", opts.Addrs)
	}
	if opts.TLSConfig == nil {
		t.Error("redis-url is not rediss:// (ElastiCache in-transit encryption)")
	}
	if !strings.HasPrefix(opts.Addrs[0], "clustercfg.") {
		t.Errorf("the first seed is %s, want the configuration endpoint", opts.Addrs[0])
	}
}
