package rediscache

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// slogLogger carries go-redis's own messages (a failed dial, for one) into
// the service's log at debug level: during an outage the breaker's state
// changes say what matters at warn level, once, instead of a line per dial.
type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

// RouteLibraryLog sends go-redis's logging to log. go-redis keeps one logger
// per process, so main calls this once.
func RouteLibraryLog(log *slog.Logger) {
	redis.SetLogger(slogLogger{log: log})
}
