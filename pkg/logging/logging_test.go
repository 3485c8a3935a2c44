package logging_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ticketsys/ticketsys/pkg/logging"
)

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		level, format string
		logsDebug     bool
		logsInfo      bool
		json          bool
	}{
		{"debug", "json", true, true, true},
		{"info", "text", false, true, false},
		{"WARN", "JSON", false, false, true},
		{"error", "text", false, false, false},
		{"", "", false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.level+"/"+tt.format, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			log, err := logging.New(tt.level, tt.format, &buf)
			if err != nil {
				t.Fatal(err)
			}

			log.Debug("dbg")
			if got := bytes.Contains(buf.Bytes(), []byte("dbg")); got != tt.logsDebug {
				t.Errorf("debug logged: %v, want %v; output %q", got, tt.logsDebug, buf.String())
			}
			buf.Reset()
			log.Info("inf", "k", "v")
			if got := bytes.Contains(buf.Bytes(), []byte("inf")); got != tt.logsInfo {
				t.Errorf("info logged: %v, want %v; output %q", got, tt.logsInfo, buf.String())
			}
			if tt.logsInfo {
				if got := json.Valid(bytes.TrimSpace(buf.Bytes())); got != tt.json {
					t.Errorf("JSON: %v, want %v; output %q", got, tt.json, buf.String())
				}
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	_, err := logging.New("verbose", "json", &bytes.Buffer{})
	if err == nil {
		t.Fatal(`New("verbose", ...) succeeded, want an error`)
	}
	for _, want := range []string{"LOG_LEVEL", `"verbose"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}

	_, err = logging.New("info", "xml", &bytes.Buffer{})
	if err == nil {
		t.Fatal(`New(..., "xml", ...) succeeded, want an error`)
	}
	if !strings.Contains(err.Error(), "LOG_FORMAT") {
		t.Errorf("error %q lacks %q", err, "LOG_FORMAT")
	}
}
