package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// CheckTimeout bounds each readiness check, so one hung dependency cannot hang the probe.
const CheckTimeout = 2 * time.Second

// Check is one dependency probed by /readyz. Fn should honour ctx; it is abandoned at the timeout
// either way.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// RegisterOps mounts GET /healthz, /readyz and /metrics, which need no token on any service.
func RegisterOps(r gin.IRoutes, g prometheus.Gatherer, checks ...Check) {
	r.GET("/healthz", Healthz())
	r.GET("/readyz", Ready(checks...))
	r.GET("/metrics", MetricsHandler(g))
}

// Healthz says the process is alive; it checks nothing else on purpose, so a dependency outage
// never gets the process restarted.
func Healthz() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	}
}

// Ready runs all checks concurrently and answers 200 {"status":"ok"} or 503 with the failing
// checks and a generic reason each. The real error goes to the log only: it may hold a host name,
// a DSN or a password, and /readyz needs no token.
func Ready(checks ...Check) gin.HandlerFunc {
	logs := &checkLog{last: map[string]string{}}
	return func(c *gin.Context) {
		failing := runChecks(c.Request.Context(), checks, logs)
		if len(failing) > 0 {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "failing": failing})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	}
}

func runChecks(ctx context.Context, checks []Check, logs *checkLog) map[string]string {
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		failing = map[string]string{}
	)
	for _, ch := range checks {
		wg.Go(func() {
			err := runCheck(ctx, ch)
			logs.report(ctx, ch.Name, err)
			if err == nil {
				return
			}
			mu.Lock()
			failing[ch.Name] = reason(err)
			mu.Unlock()
		})
	}
	wg.Wait()
	return failing
}

// checkLog logs a check when it starts failing, fails with another error, or passes again, not on every
// probe: a kubelet or make dev polls /readyz many times while a dependency comes up or stays down.
type checkLog struct {
	mu   sync.Mutex
	last map[string]string // per failing check, the error last logged
}

func (l *checkLog) report(ctx context.Context, name string, err error) {
	l.mu.Lock()
	prev, failing := l.last[name]
	switch {
	case err == nil && failing:
		delete(l.last, name)
	case err != nil && (!failing || prev != err.Error()):
		l.last[name] = err.Error()
	default:
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	if err == nil {
		slog.Default().InfoContext(ctx, "readiness check passes again", slog.String("check", name))
		return
	}
	slog.Default().WarnContext(ctx, "readiness check failed",
		slog.String("check", name), slog.String("error", err.Error()))
}

var errPanicked = errors.New("check panicked")

// runCheck returns at the timeout even when Fn ignores its context; the buffered channel lets a
// late Fn finish without blocking forever.
func runCheck(ctx context.Context, ch Check) error {
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			// A goroutine panic would kill the process; Recovery only covers the handler's own goroutine.
			if r := recover(); r != nil {
				done <- fmt.Errorf("%w: %v", errPanicked, r)
			}
		}()
		done <- ch.Fn(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func reason(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, errPanicked):
		return "failed"
	default:
		return "unreachable"
	}
}
