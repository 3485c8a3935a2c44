package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os/exec"
	"runtime"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/ticketsys/ticketsys/cmd/ticketctl/internal/liveview"
	"github.com/ticketsys/ticketsys/pkg/lifecycle"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

type uiOptions struct {
	addr       string
	consumer   string
	metricsURL string
	open       bool
}

func (a *app) uiCmd() *cobra.Command {
	var (
		sf streamFlags
		o  uiOptions
	)
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Serve a live view of the event stream, the consumer's lag and the cache hit ratio",
		Long: `Serve a small web page that shows, live, the events as they arrive (newest on top), the
durable consumer's lag (pending), the cache hit ratio of the query service and the events
per second, for whoever would rather look than read. The page updates itself through
server-sent events (GET /events) and reconnects by itself; it loads nothing from elsewhere.

Events are read with an ordered consumer from the moment ui starts (as events tail does, it
never disturbs the durable consumer). Every second the page gets the consumer's pending,
ack pending and redelivered counts (as events stats reports them), the stream's last
sequence, the DLQ size and the hit ratio from ticketsys_cache_requests_total on --query-metrics, over
the last second and overall. What cannot be read is shown as absent or n/a.

It listens on loopback by default: the page has no login, so think twice before --addr
0.0.0.0. Ctrl-C ends it with exit code 0.`,
		Example: `  ticketctl ui
  ticketctl ui --addr 127.0.0.1:9000 --open
  ticketctl ui --query-metrics http://query.internal:8082/metrics`,
		Args: cobra.NoArgs,
		RunE: a.action(func(cmd *cobra.Command, _ []string) error {
			if err := sf.validate(); err != nil {
				return err
			}
			if err := o.validate(); err != nil {
				return err
			}
			return a.ui(cmd.Context(), &sf, o)
		}),
	}
	sf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8090", "address to listen on (host:port; port 0 picks a free one)")
	f.StringVar(&o.consumer, "consumer", ticketevent.DefaultConsumer, "the durable consumer whose lag is shown")
	f.StringVar(&o.metricsURL, "query-metrics", "http://127.0.0.1:8082/metrics",
		`the query service's Prometheus endpoint, for the cache hit ratio ("" to leave it out)`)
	f.BoolVar(&o.open, "open", false, "open the page in the desktop's browser")
	return cmd
}

func (o uiOptions) validate() error {
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return usagef("--addr %q: want host:port, e.g. 127.0.0.1:8090", o.addr)
	}
	if err := ticketevent.CheckName("--consumer", o.consumer); err != nil {
		return usageError{err}
	}
	if o.metricsURL != "" {
		u, err := url.Parse(o.metricsURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usagef("--query-metrics %q: want an http(s) URL such as http://127.0.0.1:8082/metrics", o.metricsURL)
		}
	}
	return nil
}

func (a *app) ui(ctx context.Context, sf *streamFlags, o uiOptions) error {
	// A view left open all night rides out a NATS restart instead of giving up after the
	// client's default 60 reconnects.
	conn, err := a.connectNATS(sf.timeout, nats.MaxReconnects(-1))
	if err != nil {
		return err
	}
	defer conn.Close()
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{sf.subjectPrefix + ".>"},
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		InactiveThreshold: time.Minute,
	}
	// Created before the URL is printed: a missing stream fails at once, and whatever is
	// published after the URL appears reaches the page.
	fol, err := followStream(ctx, conn, sf, cfg)
	if err != nil {
		return err
	}
	srv := liveview.New(liveview.Config{
		NATS: func(ctx context.Context) (liveview.NATSStats, error) {
			r, err := collectStats(ctx, conn, sf, o.consumer)
			return toLiveStats(r), err
		},
		MetricsURL: o.metricsURL,
	})
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		fol.close()
		return fmt.Errorf("cannot listen on %s: %w", o.addr, err)
	}
	pageURL := pageURL(ln.Addr())
	fmt.Fprintf(a.stdout, "ticketctl: live view of %s on %s (Ctrl-C to stop)\n", sf.stream, pageURL)
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		fmt.Fprintf(a.stderr, "ticketctl: warning: listening on %s: the page has no login, anyone who reaches it sees every event\n", ln.Addr())
	}
	if o.open {
		if err := openBrowser(pageURL); err != nil {
			fmt.Fprintf(a.stderr, "ticketctl: warning: could not open a browser (%v); open %s yourself\n", err, pageURL)
		}
	}

	// The page's server and the two loops that feed it, stopped in order by
	// lifecycle: the streams end, the server drains, then the loops stop.
	return lifecycle.Run(ctx, lifecycle.Spec{
		Log:             slog.New(slog.DiscardHandler),
		Listener:        ln,
		Handler:         srv.Handler(),
		ShutdownTimeout: 5 * time.Second,
		OnShutdown:      []func(){srv.EndStreams},
		Workers: []lifecycle.Worker{
			{Name: "stats", Run: func(ctx context.Context) error { srv.Run(ctx); return nil }},
			{Name: "event follower", Run: func(ctx context.Context) error {
				a.followLive(ctx, conn, sf, cfg, fol, srv)
				return nil
			}},
		},
	})
}

// pageURL is the address to print; for a wildcard listener, the loopback one works locally.
func pageURL(addr net.Addr) string {
	ta := addr.(*net.TCPAddr)
	host := ta.IP.String()
	if ta.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(ta.Port)) + "/"
}

// openBrowser hands the URL to the desktop; it does not wait for the browser.
func openBrowser(u string) error {
	name := "xdg-open"
	switch runtime.GOOS {
	case "darwin":
		name = "open"
	case "windows":
		name = "explorer"
	}
	cmd := exec.Command(name, u) //nolint:gosec // the URL is the one we serve, not user input
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
