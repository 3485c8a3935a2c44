package logging_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/logging"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

func TestBuffered(t *testing.T) {
	t.Parallel()
	var out testinfra.SyncBuffer
	b := logging.NewBuffered(&out, time.Hour) // no tick during the test
	log, err := logging.New("info", "json", b)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("request")
	if out.String() != "" {
		t.Fatalf("an info line went out at once: %q", out.String())
	}
	log.Warn("trouble")
	if s := out.String(); !strings.Contains(s, `"msg":"request"`) || !strings.Contains(s, `"msg":"trouble"`) {
		t.Fatalf("a warning did not flush the batch: %q", s)
	}
	log.With("k", "v").Info("last")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"msg":"last","k":"v"`) {
		t.Fatalf("Close did not write the rest: %q", out.String())
	}

	ticking := logging.NewBuffered(&out, 10*time.Millisecond)
	defer ticking.Close()
	_, _ = ticking.Write([]byte("tick\n"))
	testinfra.Eventually(t, 5*time.Second, func() bool { return strings.Contains(out.String(), "tick") },
		"the interval never flushed")
}
