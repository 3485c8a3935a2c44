package main

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// side is one turn's outcome.
type side struct {
	RPS      float64       `json:"rps"`
	P50      time.Duration `json:"p50_ns"`
	P99      time.Duration `json:"p99_ns"`
	Requests uint64        `json:"requests"`
	Failed   uint64        `json:"failed"`
}

// target builds request i of a turn.
type target func(i uint64, t *vegeta.Target)

func targeter(f target) vegeta.Targeter {
	var n atomic.Uint64
	return func(t *vegeta.Target) error {
		f(n.Add(1)-1, t)
		return nil
	}
}

// closedLoop keeps workers requests in flight for d (vegeta at an unbounded
// rate with a fixed number of workers) and measures the throughput of the
// requests ok accepts.
func closedLoop(ctx context.Context, workers int, d time.Duration, f target, ok func(*vegeta.Result) bool) side {
	atk := vegeta.NewAttacker(vegeta.Workers(uint64(workers)), vegeta.MaxWorkers(uint64(workers)),
		vegeta.Connections(workers), vegeta.KeepAlive(true), vegeta.Timeout(10*time.Second), vegeta.MaxBody(-1))
	return collect(ctx, atk, atk.Attack(targeter(f), vegeta.Rate{}, d, "closed"), ok)
}

// openLoop sends rate requests per second for d, whatever the answers take:
// a slow answer does not hold the next request back, so latencies are free
// of coordinated omission. each sees every result.
func openLoop(ctx context.Context, rate int, d time.Duration, f target, each func(*vegeta.Result)) side {
	atk := vegeta.NewAttacker(vegeta.Workers(64), vegeta.MaxWorkers(4096), vegeta.KeepAlive(true),
		vegeta.Timeout(10*time.Second), vegeta.MaxBody(-1))
	return collect(ctx, atk, atk.Attack(targeter(f), vegeta.Rate{Freq: rate, Per: time.Second}, d, "open"),
		func(r *vegeta.Result) bool { each(r); return r.Error == "" && r.Code < 300 })
}

func collect(ctx context.Context, atk *vegeta.Attacker, results <-chan *vegeta.Result, ok func(*vegeta.Result) bool) side {
	var m vegeta.Metrics
	var s side
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	for r := range results {
		if !ok(r) {
			s.Failed++
			if r.Error == "" {
				r.Error = fmt.Sprintf("unexpected answer %d", r.Code)
			}
			r.Code = 0 // counted as a failure by the metrics too
		}
		m.Add(r)
	}
	m.Close()
	s.Requests = m.Requests
	s.RPS = float64(m.Requests-s.Failed) / m.Duration.Seconds()
	s.P50, s.P99 = m.Latencies.P50, m.Latencies.P99
	return s
}

// abab runs the project and the floor in turns, A B A B, and keeps each
// side's better turn: a turn spoilt by a noisy neighbour does not count
// against either.
func abab(ctx context.Context, sz Size, project, floor func() side) (side, side) {
	var best [2]side
	for range 2 {
		for i, run := range []func() side{project, floor} {
			s := run()
			if s.RPS > best[i].RPS || best[i].Requests == 0 {
				failed := best[i].Failed + s.Failed
				best[i] = s
				best[i].Failed = failed
			} else {
				best[i].Failed += s.Failed
			}
			if ctx.Err() != nil {
				return best[0], best[1]
			}
		}
	}
	return best[0], best[1]
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}
