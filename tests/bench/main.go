// Command bench is make bench: it measures every hot path of the system
// beside its floor, the bare parts that path is made of (tests/bench/floor),
// in the same run on the same machine, and reports the ratios. Machines are
// noisy, so only ratios within one run mean anything; the project and its
// floor take turns (A B A B) and the better of each side's two turns counts.
//
//	go run ./tests/bench            the full run (make bench, about 10 minutes)
//	go run ./tests/bench -quick     shorter turns, 100k tickets instead of 1M (make bench-quick)
//	go run ./tests/bench -smoke     every scenario once, tiny (what make test runs)
//
// It builds the services and the floor, runs them as processes in the
// configuration users run (auth on, request logs at info as JSON on stdout,
// metrics on) against the machine's Postgres, Redis and NATS (the TEST_*
// variables or the local defaults, as make test finds them), each in
// databases, keys and streams of its own, and removes them afterwards,
// except the large list databases, which are kept for the next run.
//
// It prints one Markdown table and writes the same as JSON (-out).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Size is how long and how much each scenario runs.
type Size struct {
	Name      string
	Turn      time.Duration // one side's turn in a throughput scenario
	Workers   int           // concurrent connections of a closed loop
	MissRows  int           // tickets for read misses (each read once)
	HotRows   int           // tickets for read hits
	FreshFor  time.Duration // the write -> fresh run
	FreshRate int           // writes per second, open loop
	ListSmall int           // rows of the small list database
	ListLarge int           // rows of the large one
	ListReads int           // uncached list reads per measurement
	HerdSize  int
	Only      map[string]bool // the scenarios to run; all when empty
}

// want reports whether the scenario runs.
func (s Size) want(name string) bool { return len(s.Only) == 0 || s.Only[name] }

var sizes = map[string]Size{
	"full":  {"full", 5 * time.Second, 32, 200_000, 1000, 15 * time.Second, 1000, 10_000, 1_000_000, 300, 1000, nil},
	"quick": {"quick", 2 * time.Second, 32, 60_000, 1000, 5 * time.Second, 1000, 10_000, 100_000, 100, 1000, nil},
	"smoke": {"smoke", 300 * time.Millisecond, 4, 5_000, 50, time.Second, 100, 6_000, 12_000, 10, 50, nil},
}

func main() {
	quick := flag.Bool("quick", false, "shorter turns and a 100k list database (make bench-quick)")
	smoke := flag.Bool("smoke", false, "every scenario once, tiny: checks that the bench runs")
	out := flag.String("out", "bench-results.json", "where to write the results as JSON")
	only := flag.String("only", "", "run only these scenarios, comma-separated: read-hit, list-hit, read-miss, herd, write, fresh, lists")
	profiles := flag.String("profiles", "", "a directory for CPU and allocation profiles of the services (PPROF_ADDR), one per scenario")
	flag.Parse()
	size := sizes["full"]
	switch {
	case *smoke:
		size = sizes["smoke"]
	case *quick:
		size = sizes["quick"]
	}
	if *only != "" {
		size.Only = map[string]bool{}
		for _, o := range strings.Split(*only, ",") {
			size.Only[strings.TrimSpace(o)] = true
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	rep, err := run(ctx, size, *profiles, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Print(rep.Markdown())
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
