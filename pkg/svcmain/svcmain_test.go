package svcmain_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/ticketsys/ticketsys/pkg/svcmain"
)

func TestStartListenClose(t *testing.T) {
	var out bytes.Buffer
	env := func(string) string { return "" }
	p, err := svcmain.Start(context.Background(), "svc", "info", "json", &out, env)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	var got string
	ln, err := p.Listen("127.0.0.1:0", "svc", func(a string) { got = a }, "extra", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if got != ln.Addr().String() {
		t.Fatalf("ready got %q, listener is on %q", got, ln.Addr())
	}
	slog.Info("through the default logger")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("log lines: %q", out.String())
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first["msg"] != "svc listening" || first["extra"] != 1.0 {
		t.Fatalf("listen line %s (%v)", lines[0], err)
	}
	if !strings.Contains(lines[1], "through the default logger") {
		t.Fatalf("slog's default is not the service's logger: %s", lines[1])
	}
	// A taken address is an error naming HTTP_ADDR.
	if _, err := p.Listen(ln.Addr().String(), "svc", nil); err == nil || !strings.Contains(err.Error(), "HTTP_ADDR") {
		t.Fatalf("second listen on %s: %v", ln.Addr(), err)
	}
}

func TestStartRejectsBadLogSettings(t *testing.T) {
	t.Parallel()
	if _, err := svcmain.Start(context.Background(), "svc", "loud", "json", &bytes.Buffer{}, func(string) string { return "" }); err == nil ||
		!strings.Contains(err.Error(), "LOG_LEVEL") {
		t.Fatalf("err %v", err)
	}
}
