package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// The end of the order: the machine's binaries first, and Docker is not even asked then; a container only
// when the binaries are missing and an engine is configured; else the install line.
func TestNextStep(t *testing.T) {
	noBin := errors.New("no binaries")
	for _, c := range []struct {
		name      string
		binErr    error
		docker    bool
		want      step
		wantAsked bool
	}{
		{"binaries present", nil, true, stepPrivate, false},
		{"binaries present, no Docker", nil, false, stepPrivate, false},
		{"binaries absent, Docker configured", noBin, true, stepContainer, true},
		{"binaries absent, no Docker", noBin, false, stepInstall, true},
	} {
		asked := false
		got := nextStep(c.binErr, func() bool { asked = true; return c.docker })
		if got != c.want || asked != c.wantAsked {
			t.Errorf("%s: step %d, Docker asked %v; want step %d, asked %v", c.name, got, asked, c.want, c.wantAsked)
		}
	}
}

// fallback runs what nextStep picks, and only that; its failures say what to do.
func TestFallbackOrder(t *testing.T) {
	var calls []string
	fake := func(binErr error, docker bool, containerErr error) (*devstack, server) {
		calls = nil
		d := &devstack{logs: &logMerger{out: &bytes.Buffer{}},
			dockerConfigured: func() bool { calls = append(calls, "docker"); return docker }}
		s := d.postgresServer()
		s.find = func() (string, error) { calls = append(calls, "find"); return "/bin", binErr }
		s.private = func(bin string) (dep, error) { calls = append(calls, "private "+bin); return dep{note: "private"}, nil }
		s.container = func(context.Context) (dep, error) {
			calls = append(calls, "container")
			return dep{note: "container"}, containerErr
		}
		return d, s
	}
	noBin := errors.New("no initdb and postgres on PATH")
	for _, c := range []struct {
		name         string
		binErr       error
		docker       bool
		containerErr error
		wantCalls    string
		wantNote     string
		wantErr      []string
	}{
		{name: "binaries present", docker: true, wantCalls: "find private /bin", wantNote: "private"},
		{name: "binaries absent, Docker configured", binErr: noBin, docker: true, wantCalls: "find docker container", wantNote: "container"},
		{name: "binaries absent, Docker configured, container fails", binErr: noBin, docker: true,
			containerErr: errors.New("the postgres container did not start: the Docker engine does not answer: dial unix /x: connection refused"),
			wantCalls:    "find docker container",
			wantErr: []string{"no PostgreSQL: " + noBin.Error() + ", and a Docker engine is configured, but its container failed: " +
				"the postgres container did not start: the Docker engine does not answer"}},
		{name: "binaries absent, no Docker", binErr: noBin,
			wantCalls: "find docker", wantErr: []string{"no PostgreSQL", "127.0.0.1:5432", "DATABASE_URL", noBin.Error(),
				"no Docker engine is configured", "apt-get install postgresql redis-server", "brew install postgresql@16 redis", "start Docker"}},
	} {
		d, s := fake(c.binErr, c.docker, c.containerErr)
		got, err := d.fallback(context.Background(), s)
		if strings.Join(calls, " ") != c.wantCalls {
			t.Errorf("%s: called %q, want %q", c.name, strings.Join(calls, " "), c.wantCalls)
		}
		if c.wantErr == nil {
			if err != nil || got.note != c.wantNote {
				t.Errorf("%s: %+v, %v; want note %q", c.name, got, err, c.wantNote)
			}
			continue
		}
		if err == nil {
			t.Fatalf("%s: no error", c.name)
		}
		for _, w := range c.wantErr {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: the error lacks %q:\n%v", c.name, w, err)
			}
		}
	}
}

// Every server's install line names each way to get one, Docker included.
func TestInstallLines(t *testing.T) {
	d := &devstack{}
	for _, s := range []server{d.postgresServer(), d.redisServer(), d.natsServer()} {
		msg := missing(s, errors.New("no binaries")).Error()
		for _, w := range []string{s.envVar, s.defAddr, "no binaries", "no Docker engine is configured", "start Docker"} {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: the install line lacks %q:\n%s", s.name, w, msg)
			}
		}
		if s.name != "NATS" && (!strings.Contains(msg, "apt-get install") || !strings.Contains(msg, "brew install")) {
			t.Errorf("%s: the install line names no package:\n%s", s.name, msg)
		}
	}
}

// What make dev takes of a container: Postgres's admin URL becomes the tickets database on the same
// server (created and migrated as for a server already running), NATS is used without users, and every
// banner line says the data is not kept.
func TestContainerDep(t *testing.T) {
	pg := containerDep("postgres", "postgres://postgres:postgres@localhost:32768/postgres?sslmode=disable")
	if want := "postgres://postgres:postgres@localhost:32768/tickets?sslmode=disable"; pg.url != want {
		t.Errorf("postgres: %s, want %s", pg.url, want)
	}
	rd := containerDep("redis", "redis://localhost:32769/0")
	if rd.url != "redis://localhost:32769/0" {
		t.Errorf("redis: %s", rd.url)
	}
	nt := containerDep("nats", "nats://localhost:32770")
	if nt.url != "nats://localhost:32770" || !strings.Contains(nt.note, "no users") || !strings.Contains(nt.note, "already running") {
		t.Errorf("nats: %+v", nt)
	}
	for _, dp := range []dep{pg, rd, nt} {
		if !strings.Contains(dp.note, "data not kept") || strings.HasPrefix(dp.note, "private") || dp.note == "already running" {
			t.Errorf("the banner note %q does not say the container's data is not kept (or reads as another kind)", dp.note)
		}
	}
}

// A started container is make dev's to stop from then on, also when its server then answers no
// handshake; the program's lines reach the merged log as [containers].
func TestStartContainerKeepsIt(t *testing.T) {
	var out bytes.Buffer
	d := &devstack{logs: &logMerger{out: &out}}
	d.runContainer = func(_ context.Context, kind string, stderr io.Writer) (*testinfra.Container, error) {
		_, _ = io.WriteString(stderr, "🐳 Creating container for image "+kind+"\n")
		return &testinfra.Container{URL: "redis://127.0.0.1:1/0"}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := d.startContainer(ctx, "redis", func(context.Context, string) error { return errors.New("connection refused") })
	if err == nil || !strings.Contains(err.Error(), "answers no handshake") {
		t.Errorf("error %v, want no handshake", err)
	}
	if len(d.containers) != 1 {
		t.Errorf("%d containers kept, want 1", len(d.containers))
	}
	if !strings.Contains(out.String(), "[containers] 🐳 Creating container for image redis\n") {
		t.Errorf("the program's line is not in the merged log:\n%s", out.String())
	}
}

type fakeContainer struct {
	name  string
	calls *[]string
}

func (f fakeContainer) Stop() error {
	*f.calls = append(*f.calls, f.name)
	if f.name == "redis" {
		return errors.New("the redis container's program: exit status 1")
	}
	return nil
}

// Ctrl-C stops the containers after the servers, the last started first, each one even when another
// failed; then there are none.
func TestStopContainersNewestFirst(t *testing.T) {
	var out bytes.Buffer
	var calls []string
	d := &devstack{logs: &logMerger{out: &out}}
	for _, n := range []string{"postgres", "redis", "nats"} {
		d.containers = append(d.containers, fakeContainer{n, &calls})
	}
	d.stopContainers()
	if got := strings.Join(calls, " "); got != "nats redis postgres" {
		t.Errorf("stopped %q, want nats redis postgres", got)
	}
	if !strings.Contains(out.String(), "exit status 1") || len(d.containers) != 0 {
		t.Errorf("log %q, %d containers left", out.String(), len(d.containers))
	}
}

// prefixWriter puts whole lines into the merged log, also when a line comes in pieces.
func TestPrefixWriter(t *testing.T) {
	var out bytes.Buffer
	w := &prefixWriter{logs: &logMerger{out: &out}, prefix: "[containers] "}
	for _, p := range []string{"pulling ", "postgres\nstarted\nready", "\n"} {
		if n, err := w.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	if want := "[containers] pulling postgres\n[containers] started\n[containers] ready\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// The container step for real, where DOCKER_HOST names an engine that is not there: make dev stops with
// the line saying the container failed because the engine does not answer, within the program's bounds.
// (HOME and the other places testcontainers looks for an engine are moved away; only the system's
// /var/run/docker.sock cannot be: an engine there answers instead, which is testcontainers' own order.)
func TestContainerStepWithoutEngine(t *testing.T) {
	out, err := exec.Command("go", "env", "-json", "GOCACHE", "GOMODCACHE", "GOPATH", "GOENV").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	var goEnv map[string]string
	if err := json.Unmarshal(out, &goEnv); err != nil {
		t.Fatal(err)
	}
	for k, v := range goEnv {
		t.Setenv(k, v) // the go command's caches and settings stay where they are when HOME moves
	}
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_RUNTIME_DIR", dir)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k == "DOCKER_CONTEXT" || strings.HasPrefix(k, "TESTCONTAINERS_") {
			t.Setenv(k, "")
			_ = os.Unsetenv(k)
		}
	}
	sock := filepath.Join(dir, "docker.sock")
	t.Setenv("DOCKER_HOST", "unix://"+sock)

	var log bytes.Buffer
	d := &devstack{logs: &logMerger{out: &log}, dockerConfigured: testinfra.DockerConfigured, runContainer: testinfra.StartContainer}
	defer d.stopContainers()
	s := d.redisServer()
	s.find = func() (string, error) { return "", errors.New("there is no redis-server on PATH") }
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	got, err := d.fallback(ctx, s)
	t.Logf("after %s: %v", time.Since(start).Round(time.Millisecond), err)
	if err == nil {
		if _, serr := os.Stat("/var/run/docker.sock"); serr != nil {
			t.Fatalf("a container started (%s) where DOCKER_HOST names no engine and /var/run/docker.sock is absent", got.url)
		}
		t.Logf("an engine answers on /var/run/docker.sock, which testcontainers tries after DOCKER_HOST: its container is used")
		return
	}
	want := "no Redis: there is no redis-server on PATH, and a Docker engine is configured, but its container failed: " +
		"the redis container did not start: the Docker engine does not answer: "
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), sock) {
		t.Errorf("got\n%v\nwant it to begin with\n%s\nand name %s", err, want, sock)
	}
	if !strings.Contains(log.String(), "[containers] containers: the Docker engine does not answer") {
		t.Errorf("the program's lines are not in the merged log as [containers]:\n%s", log.String())
	}
	if len(d.containers) != 0 {
		t.Errorf("%d containers kept after a failed start", len(d.containers))
	}
}
