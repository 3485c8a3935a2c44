// Package logging builds the process-wide slog.Logger from LOG_LEVEL and LOG_FORMAT.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// New returns a logger writing to w. Empty values take the documented defaults (info, json), so
// callers may pass the raw environment. A bad value is an error that names its variable, because
// it is shown as the single line a process prints before refusing to start.
func New(level, format string, w io.Writer) (*slog.Logger, error) {
	lvl, err := parseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "", "json":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, fmt.Errorf("LOG_FORMAT: unknown value %q (want json or text)", format)
	}
	if b, ok := w.(*Buffered); ok {
		h = flushing{h, b}
	}
	return slog.New(h), nil
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	default:
		return 0, fmt.Errorf("LOG_LEVEL: unknown value %q (want debug, info, warn or error)", s)
	}
}

// Config is the logging block every process's configuration embeds.
type Config struct {
	Level  string `env:"LOG_LEVEL" envDefault:"info"`
	Format string `env:"LOG_FORMAT" envDefault:"json"`
}

// Validate checks both values; the error names the variable.
func (c Config) Validate() error {
	_, err := New(c.Level, c.Format, nil)
	return err
}

// Logger returns the logger c describes, writing to w.
func (c Config) Logger(w io.Writer) (*slog.Logger, error) { return New(c.Level, c.Format, w) }
