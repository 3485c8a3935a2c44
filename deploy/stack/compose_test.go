package stack

import (
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/graph"
	"github.com/compose-spec/compose-go/v2/types"
)

func TestComposeHasEveryProcess(t *testing.T) {
	t.Parallel()
	p := loadProject(t, nil)
	want := append([]string{"frontdoor"}, infrastructure...)
	for name := range builtFrom {
		want = append(want, name)
	}
	for _, name := range want {
		service(t, p, name)
	}
	if len(p.Services) != len(want) {
		t.Errorf("services = %v, want exactly %v", p.ServiceNames(), want)
	}
}

func TestComposeVariablesFollowTheContract(t *testing.T) {
	t.Parallel()
	p := loadProject(t, nil) // nothing set: the file's development defaults
	for svc, vars := range contractVars {
		s := service(t, p, svc)
		for _, v := range vars {
			name, optional := strings.CutSuffix(v, "?")
			val, declared := s.Environment[name]
			switch {
			case !declared:
				t.Errorf("%s: %s is not passed to the container", svc, name)
			case !optional && (val == nil || *val == ""):
				t.Errorf("%s: %s has no default", svc, name)
			case optional && val != nil:
				t.Errorf("%s: %s = %q with nothing set; it must stay unset by default", svc, name, *val)
			}
		}
	}
	// The URLs name the compose services that serve them.
	for svc, want := range map[string]map[string]string{
		"command":           {"DATABASE_URL": "postgres:5432", "NATS_URL": "nats:4222"},
		"migrate":           {"DATABASE_URL": "postgres:5432"},
		"query":             {"READ_DATABASE_URL": "postgres:5432", "REDIS_URL": "redis:6379"},
		"cache-invalidator": {"REDIS_URL": "redis:6379", "NATS_URL": "nats:4222"},
	} {
		s := service(t, p, svc)
		for name, host := range want {
			if got := parseURL(t, env(s, name)).Host; got != host {
				t.Errorf("%s: %s points at %s, want %s", svc, name, got, host)
			}
		}
	}
}

// The contract: compose honours every variable already set in the
// environment, the auth key source included.
func TestComposeHonoursTheEnvironment(t *testing.T) {
	t.Parallel()
	set := map[string]string{}
	for _, vars := range contractVars {
		for _, v := range vars {
			name := strings.TrimSuffix(v, "?")
			set[name] = "from-env-" + strings.ToLower(name)
		}
	}
	delete(set, "HTTP_ADDR") // per process, fixed by the file (see below)
	p := loadProject(t, set)
	for svc, vars := range contractVars {
		s := service(t, p, svc)
		for _, v := range vars {
			name := strings.TrimSuffix(v, "?")
			if want, ok := set[name]; ok && env(s, name) != want {
				t.Errorf("%s: %s = %q, want the environment's %q", svc, name, env(s, name), want)
			}
		}
	}
	// READ_DATABASE_URL falls back to DATABASE_URL, as the query service does.
	only := loadProject(t, map[string]string{"DATABASE_URL": "postgres://elsewhere/tickets"})
	if got := env(service(t, only, "query"), "READ_DATABASE_URL"); got != "postgres://elsewhere/tickets" {
		t.Errorf("query: READ_DATABASE_URL = %q with only DATABASE_URL set", got)
	}
	// A set HTTP_ADDR would give three processes one address: it is ignored.
	fixed := loadProject(t, map[string]string{"HTTP_ADDR": ":9999"})
	for svc := range contractVars {
		if got := env(service(t, fixed, svc), "HTTP_ADDR"); got == ":9999" {
			t.Errorf("%s: HTTP_ADDR taken from the environment", svc)
		}
	}
}

func TestComposePorts(t *testing.T) {
	t.Parallel()
	p := loadProject(t, nil)
	for svc, want := range map[string]string{"command": "8081", "query": "8082", "cache-invalidator": "8083"} {
		s := service(t, p, svc)
		if port(s) != want {
			t.Errorf("%s: HTTP_ADDR %q, want port %s (the contract's)", svc, env(s, "HTTP_ADDR"), want)
		}
		if !slices.Contains([]string(s.Expose), want) {
			t.Errorf("%s: exposes %v, want %s", svc, s.Expose, want)
		}
		if len(s.Ports) != 0 {
			t.Errorf("%s: publishes %v; only the front door is reachable from the host", svc, s.Ports)
		}
	}
	fd := service(t, p, "frontdoor")
	if len(fd.Ports) != 1 || fd.Ports[0].Published != "8000" || fd.Ports[0].Target != 8000 {
		t.Fatalf("frontdoor: ports %+v, want 8000 -> 8000", fd.Ports)
	}
	if env(fd, "FRONTDOOR_PORT") != "8000" {
		t.Errorf("frontdoor: FRONTDOOR_PORT %q, want the published target 8000", env(fd, "FRONTDOOR_PORT"))
	}
	for upstream, svc := range map[string]string{"QUERY_UPSTREAM": "query", "COMMAND_UPSTREAM": "command"} {
		if want := svc + ":" + port(service(t, p, svc)); env(fd, upstream) != want {
			t.Errorf("frontdoor: %s = %q, want %q", upstream, env(fd, upstream), want)
		}
	}
}

func TestComposeHealthchecks(t *testing.T) {
	t.Parallel()
	p := loadProject(t, nil)
	for name, s := range p.Services {
		if name == "migrate" {
			continue // one-shot: depended on by completion, not health
		}
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Test[0] != "CMD" {
			t.Errorf("%s: no healthcheck in exec form", name)
			continue
		}
		if _, built := builtFrom[name]; built {
			want := "http://127.0.0.1:" + port(s) + "/readyz"
			if hc.Test[len(hc.Test)-1] != want {
				t.Errorf("%s: healthcheck %v, want it to probe %s", name, hc.Test, want)
			}
		}
	}
}

// Each process waits for what it talks to: healthy Postgres, Redis and NATS,
// and a completed migration before anything reads or writes tables.
func TestComposeDependencyOrder(t *testing.T) {
	t.Parallel()
	p := loadProject(t, nil)
	needs := func(s types.ServiceConfig) map[string]string {
		want := map[string]string{}
		if env(s, "DATABASE_URL") != "" || env(s, "READ_DATABASE_URL") != "" {
			want["postgres"] = types.ServiceConditionHealthy
		}
		if env(s, "REDIS_URL") != "" {
			want["redis"] = types.ServiceConditionHealthy
		}
		if env(s, "NATS_URL") != "" {
			want["nats"] = types.ServiceConditionHealthy
		}
		return want
	}
	for name := range builtFrom {
		s := service(t, p, name)
		want := needs(s)
		if _, ok := want["postgres"]; ok && name != "migrate" {
			want["migrate"] = types.ServiceConditionCompletedSuccessfully
		}
		for dep, cond := range want {
			if got := s.DependsOn[dep].Condition; got != cond {
				t.Errorf("%s: depends on %s with %q, want %q", name, dep, got, cond)
			}
		}
	}
	fd := service(t, p, "frontdoor")
	for _, up := range []string{"command", "query"} {
		if got := fd.DependsOn[up].Condition; got != types.ServiceConditionHealthy {
			t.Errorf("frontdoor: depends on %s with %q, want service_healthy", up, got)
		}
	}
	if err := graph.CheckCycle(p); err != nil {
		t.Errorf("depends_on: %v", err)
	}
}

// Every variable compose passes is one the process reads: a misspelt name
// would be ignored without a word and the default used instead.
func TestComposePassesOnlyKnownVariables(t *testing.T) {
	t.Parallel()
	known, err := ServiceVariables(repoRoot(t), "command", "query", "cache-invalidator")
	if err != nil {
		t.Fatal(err)
	}
	// The tracing variables are not in --help: docs/configuration.md lists
	// them as the ones the services read besides.
	conf := readFile(t, "docs/configuration.md")
	tracing := map[string]bool{}
	for _, v := range tracingVars {
		if !strings.Contains(conf, "`"+v+"`") {
			t.Errorf("%s is passed as a tracing variable, but docs/configuration.md does not document it", v)
		}
		tracing[v] = true
	}
	p := loadProject(t, nil)
	for name, pkg := range builtFrom {
		svc := strings.TrimPrefix(pkg, "./services/")
		for v := range service(t, p, name).Environment {
			if traced := tracing[v] && name != "migrate"; !known[svc][v] && !traced {
				t.Errorf("%s: %s is not a variable services/%s reads", name, v, svc)
			}
		}
	}
	if !known["query"]["AUTH_JWT_SECRET"] || known["cache-invalidator"]["AUTH_JWT_SECRET"] {
		t.Errorf("auth variables misattributed: %v", known)
	}
}

// Every process logs in as its own least-privileged user: Postgres logins made
// by deploy/postgres/init-logins.sh (tests/e2e/dblogins_test.go runs it), NATS
// users of deploy/nats/auth.conf (tests/e2e/natsauth_test.go checks their
// permissions), each with its password passed to the server that checks it.
func TestComposeUsesLeastPrivilegedUsers(t *testing.T) {
	t.Parallel()
	p := loadProject(t, nil)
	for svc, want := range map[string]map[string]string{
		"command":           {"DATABASE_URL": "ticketsys_command", "NATS_URL": "command"},
		"query":             {"READ_DATABASE_URL": "ticketsys_query"},
		"cache-invalidator": {"NATS_URL": "cache-invalidator"},
		"migrate":           {"DATABASE_URL": "postgres"},
	} {
		for name, user := range want {
			u := parseURL(t, env(service(t, p, svc), name))
			if pw, _ := u.User.Password(); u.User.Username() != user || pw == "" {
				t.Errorf("%s: %s logs in as %q, want %q with a password", svc, name, u.User.Username(), user)
			}
		}
	}
	mounts := func(svc, source, target string) {
		t.Helper()
		for _, v := range service(t, p, svc).Volumes {
			if v.Type == "bind" && strings.HasSuffix(v.Source, source) && v.Target == target && v.ReadOnly {
				return
			}
		}
		t.Errorf("%s does not mount %s read-only at %s", svc, source, target)
	}
	mounts("postgres", "/deploy/postgres/init-logins.sh", "/docker-entrypoint-initdb.d/10-logins.sh")
	mounts("nats", "/deploy/nats/auth.conf", "/etc/nats/auth.conf") // nats.conf includes ./auth.conf
	pg, nats := service(t, p, "postgres"), service(t, p, "nats")
	for _, v := range []string{"COMMAND_DB_PASSWORD", "QUERY_DB_PASSWORD"} {
		if env(pg, v) == "" {
			t.Errorf("postgres: %s unset", v)
		}
	}
	for _, v := range []string{"NATS_COMMAND_PASSWORD", "NATS_INVALIDATOR_PASSWORD", "NATS_TICKETCTL_PASSWORD", "NATS_ADMIN_PASSWORD"} {
		if env(nats, v) == "" {
			t.Errorf("nats: %s unset", v)
		}
	}
	cmdURL := parseURL(t, env(service(t, p, "command"), "NATS_URL"))
	if pw, _ := cmdURL.User.Password(); pw != env(nats, "NATS_COMMAND_PASSWORD") {
		t.Error("command's NATS password is not the one nats-server checks")
	}
}
