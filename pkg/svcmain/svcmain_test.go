package svcmain_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/lifecycle"
	"github.com/ticketsys/ticketsys/pkg/svcmain"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

type serveConfig struct {
	svcmain.Base
	HTTP lifecycle.HTTPConfig
	Name string `env:"GREETING" envDefault:"hello"`
}

type otherConfig struct {
	svcmain.Base
	Only string `env:"ONLY_OTHER"`
}

func testApp(serve func(context.Context, *svcmain.Process, serveConfig) error) svcmain.App {
	return svcmain.App{
		Name:    "svc",
		Summary: "a test service.",
		Commands: []svcmain.Command{
			svcmain.NewCommand("serve", "serve (the default)", serveConfig{HTTP: lifecycle.HTTPConfig{Addr: ":9999"}}, serve),
			svcmain.NewCommand("other", "something else", otherConfig{},
				func(context.Context, *svcmain.Process, otherConfig) error { return nil }),
		},
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestHelpListsCommandsAndEveryVariable(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"other", "--help"}} {
		var out strings.Builder
		err := testApp(nil).Run(t.Context(), svcmain.Env{Args: args, Getenv: env(nil), Stdout: &out})
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		for _, want := range []string{"svc: a test service.", "svc [serve]", "svc other", "svc --version",
			"HTTP_ADDR                    :9999", "SHUTDOWN_TIMEOUT             20s", "LOG_LEVEL                    info",
			"LOG_FORMAT                   json", "GREETING                     hello", "ONLY_OTHER                   (unset)"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%v: help lacks %q:\n%s", args, want, out.String())
			}
		}
		if strings.Count(out.String(), "LOG_LEVEL") != 1 {
			t.Errorf("a variable shared by two commands is listed twice:\n%s", out.String())
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	if err := testApp(nil).Run(t.Context(), svcmain.Env{Args: []string{"--version"}, Getenv: env(nil), Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "svc ") || !strings.Contains(out.String(), "(commit ") ||
		!strings.Contains(out.String(), ", go1.") {
		t.Fatalf("version line %q", out.String())
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--verbose"}, {"explode"}, {"serve", "extra"}} {
		err := testApp(nil).Run(t.Context(), svcmain.Env{Args: args, Getenv: env(nil), Stdout: io.Discard})
		var ue svcmain.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

func TestConfigErrorNamesTheVariable(t *testing.T) {
	t.Parallel()
	ran := false
	app := testApp(func(context.Context, *svcmain.Process, serveConfig) error { ran = true; return nil })
	for k, v := range map[string]string{"LOG_LEVEL": "loud", "HTTP_ADDR": "nope", "SHUTDOWN_TIMEOUT": "soon"} {
		err := app.Run(t.Context(), svcmain.Env{Getenv: env(map[string]string{k: v}), Stdout: io.Discard})
		if err == nil || !strings.Contains(err.Error(), k) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s=%s: %v, want one line naming the variable", k, v, err)
		}
	}
	if ran {
		t.Fatal("the command ran with a bad configuration")
	}
}

// Serve listens on HTTP_ADDR, tells the ready callback, logs through the
// process's logger (slog's default too), serves the build info, and returns
// when the context ends.
func TestServe(t *testing.T) {
	logs := &testinfra.SyncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	app := testApp(func(ctx context.Context, p *svcmain.Process, cfg serveConfig) error {
		slog.Info("through the default logger")
		mfs, err := p.Registry.Gather()
		if err != nil {
			return err
		}
		var names []string
		for _, mf := range mfs {
			names = append(names, mf.GetName())
		}
		if !strings.Contains(strings.Join(names, " "), "ticketsys_build_info") {
			return errors.New("no ticketsys_build_info in " + strings.Join(names, " "))
		}
		return p.Serve(ctx, cfg.HTTP, lifecycle.Spec{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, cfg.Name)
		})})
	})
	go func() {
		done <- app.Run(ctx, svcmain.Env{Getenv: env(map[string]string{"HTTP_ADDR": "127.0.0.1:0"}), Stdout: logs,
			Ready: func(a string) { addr <- a }})
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatal(err)
	}
	res, err := http.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "hello" {
		t.Fatalf("body %q", b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"msg":"through the default logger"`, `"msg":"svc listening"`, `"msg":"svc stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

func TestServeNamesHTTPAddrWhenTaken(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed := false
	app := testApp(func(ctx context.Context, p *svcmain.Process, cfg serveConfig) error {
		return p.Serve(ctx, cfg.HTTP, lifecycle.Spec{Handler: http.NotFoundHandler(), Closers: []func(){func() { closed = true }}})
	})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err = app.Run(ctx, svcmain.Env{Getenv: env(map[string]string{"HTTP_ADDR": ln.Addr().String()}), Stdout: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "HTTP_ADDR") {
		t.Fatalf("%v", err)
	}
	if !closed {
		t.Fatal("what the command opened was not closed after the listen failed")
	}
}

// PPROF_ADDR serves the profiles beside the service, on loopback only.
func TestPprof(t *testing.T) {
	t.Parallel()
	app := testApp(func(ctx context.Context, p *svcmain.Process, cfg serveConfig) error {
		return p.Serve(ctx, cfg.HTTP, lifecycle.Spec{Handler: http.NotFoundHandler()})
	})
	err := app.Run(t.Context(), svcmain.Env{Getenv: env(map[string]string{"PPROF_ADDR": "0.0.0.0:6060"}), Stdout: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "PPROF_ADDR") {
		t.Fatalf("a public PPROF_ADDR: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, svcmain.Env{Getenv: env(map[string]string{"PPROF_ADDR": addr, "HTTP_ADDR": "127.0.0.1:0"}),
			Stdout: io.Discard, Ready: func(a string) { ready <- a }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	res, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), "goroutine profile") {
		t.Fatalf("pprof answered %d: %.200s", res.StatusCode, b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
