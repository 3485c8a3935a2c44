package stack

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func readFile(t *testing.T, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// uncommented drops comment lines and surrounding blanks.
func uncommented(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// The front door in compose runs the Caddy release and the Caddyfile that
// `make dev` runs.
func TestFrontDoorIsTheDevOne(t *testing.T) {
	t.Parallel()
	p := loadProject(t, nil)
	fd := service(t, p, "frontdoor")
	if fd.Build == nil || fd.Build.Dockerfile != "deploy/caddy/Dockerfile" {
		t.Fatalf("frontdoor: build %+v, want deploy/caddy/Dockerfile", fd.Build)
	}
	var mounted bool
	for _, v := range fd.Volumes {
		mounted = mounted || (v.Source == filepath.Join(repoRoot(t), "deploy", "caddy", "Caddyfile") && v.ReadOnly)
	}
	if !mounted {
		t.Errorf("frontdoor: deploy/caddy/Caddyfile is not mounted read-only: %+v", fd.Volumes)
	}
	df := readDockerfile(t, filepath.Join(repoRoot(t), "deploy", "caddy", "Dockerfile"))
	checkFinalImage(t, "frontdoor", df, fd.HealthCheck != nil)

	pin := regexp.MustCompile(`const caddyVersion = "(v[0-9.]+)"`).FindStringSubmatch(readFile(t, "cmd/devstack/main.go"))
	build, _ := df.Stage("build")
	if pin == nil || !strings.Contains(strings.Join(build.All("ARG"), " "), "CADDY_VERSION="+pin[1]) {
		t.Errorf("deploy/caddy/Dockerfile does not build the Caddy version make dev (cmd/devstack) pins (%v)", pin)
	}
	if pin != nil && !strings.Contains(readFile(t, "mk/stack.mk"), "CADDY_VERSION ?= "+pin[1]) {
		t.Errorf("mk/stack.mk does not build the Caddy version make dev (cmd/devstack) pins (%s)", pin[1])
	}
}

// The routing rule of the contract, read from the Caddyfile: GET and HEAD to
// the query service, the rest to the command service, upstreams from the
// variables compose sets.
func TestCaddyfileRoutes(t *testing.T) {
	t.Parallel()
	lines := uncommented(readFile(t, "deploy/caddy/Caddyfile"))
	text := strings.Join(lines, "\n")
	for _, want := range []string{
		"admin off",
		"auto_https off",
		"@read method GET HEAD",
		"handle @read {\nreverse_proxy {$QUERY_UPSTREAM:127.0.0.1:8082}\n}",
		"handle {\nreverse_proxy {$COMMAND_UPSTREAM:127.0.0.1:8081}\n}",
		"http://:{$FRONTDOOR_PORT:8000} {",
		// Hardening: probes and metrics stay inside, limits, security headers on every answer.
		"@internal path /readyz /metrics /debug/*",
		"max_size 1MiB",
		"max_header_size 64KiB",
		"X-Content-Type-Options nosniff",
		"handle_errors 413 {\nimport security_headers",
		"handle_errors 502 503 504 {\nimport security_headers",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("Caddyfile lacks %q", want)
		}
	}
	if strings.Count(text, "reverse_proxy") != 2 {
		t.Errorf("Caddyfile has %d reverse_proxy directives, want the two routes", strings.Count(text, "reverse_proxy"))
	}
}

func TestNATSConfigSyncsEveryWrite(t *testing.T) {
	t.Parallel()
	lines := uncommented(readFile(t, "deploy/nats/nats.conf"))
	conf := strings.Join(lines, "\n")
	for _, want := range []string{"jetstream {", "sync_interval: always", "store_dir: /data"} {
		if !strings.Contains(conf, want) {
			t.Errorf("deploy/nats/nats.conf lacks %q", want)
		}
	}
	nats := service(t, loadProject(t, nil), "nats")
	var stored bool
	for _, v := range nats.Volumes {
		stored = stored || (v.Type == "volume" && v.Target == "/data")
	}
	if !stored {
		t.Errorf("nats: store_dir /data is not on a named volume: %+v", nats.Volumes)
	}
}

// A token that `make dev` prints works against the compose stack with
// nothing set: both verify with the development key pair's public half, which
// the services refuse unless ENV=development, and both say development.
func TestDevKeysMatchMakeDev(t *testing.T) {
	t.Parallel()
	dev := readFile(t, "cmd/devstack/main.go")
	for _, want := range []string{
		`setDefault("ENV", "development")`,
		`os.Setenv("AUTH_PUBLIC_KEY_FILE", filepath.Join(d.root, "deploy", "dev-keys", "public.pem"))`,
		`setDefault("AUTH_PRIVATE_KEY_FILE", filepath.Join(d.root, "deploy", "dev-keys", "private.pem"))`,
	} {
		if !strings.Contains(dev, want) {
			t.Errorf("cmd/devstack/main.go lacks %s", want)
		}
	}
	p := loadProject(t, nil)
	for _, svc := range []string{"command", "query", "cache-invalidator"} {
		if got := env(service(t, p, svc), "ENV"); got != "development" {
			t.Errorf("%s: ENV %q, want development", svc, got)
		}
	}
	for _, svc := range []string{"command", "query"} {
		s := service(t, p, svc)
		keyFile := env(s, "AUTH_PUBLIC_KEY_FILE")
		var mounted bool
		for _, v := range s.Volumes {
			mounted = mounted || (v.Type == "bind" && v.Target == keyFile && v.ReadOnly &&
				strings.HasSuffix(v.Source, "/deploy/dev-keys/public.pem"))
		}
		if !mounted {
			t.Errorf("%s: AUTH_PUBLIC_KEY_FILE %q is not deploy/dev-keys/public.pem mounted read-only: %+v", svc, keyFile, s.Volumes)
		}
	}
	// Set empty, another key source can be used without editing the file.
	other := loadProject(t, map[string]string{"AUTH_PUBLIC_KEY_FILE": "", "AUTH_JWKS_URL": "https://idp.example/jwks"})
	if got := env(service(t, other, "query"), "AUTH_PUBLIC_KEY_FILE"); got != "" {
		t.Errorf("AUTH_PUBLIC_KEY_FILE= is not honoured: %q", got)
	}
}

func TestComposeKeepsStateInNamedVolumes(t *testing.T) {
	t.Parallel()
	p := loadProject(t, nil)
	for svc, target := range map[string]string{"postgres": "/var/lib/postgresql/data", "nats": "/data"} {
		var ok bool
		for _, v := range service(t, p, svc).Volumes {
			if _, declared := p.Volumes[v.Source]; v.Type == "volume" && v.Target == target && declared {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s: %s is not a declared named volume", svc, target)
		}
	}
	for name := range builtFrom {
		if !service(t, p, name).ReadOnly {
			t.Errorf("%s: root filesystem is writable (read_only: true)", name)
		}
	}
}
