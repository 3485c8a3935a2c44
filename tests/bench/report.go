package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Report is what a run found.
type Report struct {
	Size    string  `json:"size"`
	Date    string  `json:"date"`
	Seconds float64 `json:"seconds"`
	Machine Machine `json:"machine"`
	Rows    []Row   `json:"rows"`
}

// Machine are the facts a figure depends on.
type Machine struct {
	CPU      string `json:"cpu"`
	Cores    int    `json:"cores"`
	Go       string `json:"go"`
	Postgres string `json:"postgres"`
	Redis    string `json:"redis"`
	NATS     string `json:"nats"`
}

// Row is one line of the table: the project's figure, the floor's, and
// the value compared with the target (a ratio, or a figure of its own).
type Row struct {
	Scenario string  `json:"scenario"`
	Project  string  `json:"project"`
	Floor    string  `json:"floor"`
	Value    float64 `json:"value"`
	Target   string  `json:"target"`
	Met      bool    `json:"met"`
	Detail   *Pair   `json:"detail,omitempty"`
}

// Pair is a throughput scenario's two sides.
type Pair struct {
	Project side `json:"project"`
	Floor   side `json:"floor"`
}

func (r *Report) throughput(scenario, floor string, p, f side, target float64) {
	ratio := p.RPS / f.RPS
	r.Rows = append(r.Rows, Row{
		Scenario: scenario,
		Project:  fmt.Sprintf("%.0f req/s, p99 %s", p.RPS, ms(p.P99)),
		Floor:    fmt.Sprintf("%.0f req/s, p99 %s (%s)", f.RPS, ms(f.P99), floor),
		Value:    ratio, Target: fmt.Sprintf(">= %.1f", target),
		Met:    ratio >= target && p.Failed == 0 && f.Failed == 0,
		Detail: &Pair{Project: p, Floor: f},
	})
}

// Markdown is the table, with the machine above it.
func (r *Report) Markdown() string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "make bench (%s), %s, %.0f s: %s, %d cores, %s, PostgreSQL %s, Redis %s, NATS %s\n\n",
		r.Size, r.Date, r.Seconds, m.CPU, m.Cores, m.Go, m.Postgres, m.Redis, m.NATS)
	b.WriteString("| scenario | project | floor (same run) | value | target | met |\n|---|---|---|---|---|---|\n")
	for _, row := range r.Rows {
		met := "yes"
		if !row.Met {
			met = "**no**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.2f | %s | %s |\n", row.Scenario, row.Project, row.Floor, row.Value, row.Target, met)
		if d := row.Detail; d != nil && (d.Project.Failed > 0 || d.Floor.Failed > 0) {
			fmt.Fprintf(&b, "| (failed requests: project %d, floor %d) | | | | | |\n", d.Project.Failed, d.Floor.Failed)
		}
	}
	return b.String()
}

func machineFacts(ctx context.Context, st *stack) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), CPU: cpuModel()}
	if conn, err := pgx.Connect(ctx, st.srv.admin); err == nil {
		_ = conn.QueryRow(ctx, "SHOW server_version").Scan(&m.Postgres)
		_ = conn.Close(ctx)
	}
	if info, err := st.rdb.Info(ctx, "server").Result(); err == nil {
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
				m.Redis = v
			}
		}
	}
	m.NATS = st.nc.ConnectedServerVersion()
	return m
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return runtime.GOARCH
}
