package main

import (
	"strings"
	"testing"
)

// make test runs every scenario once, tiny: the bench builds, starts the
// stack, loads it and reports a figure for each target. It asserts no speed:
// figures come from make bench, as ratios within one run.
func TestSmoke(t *testing.T) {
	t.Parallel()
	rep, err := run(t.Context(), sizes["smoke"], "", t.Output())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"read hit", "list hit", "read miss", "concurrent misses", "write: POST", "write -> fresh", "write -> fresh", "write -> fresh",
		"peak RSS of command", "peak RSS of query", "peak RSS of cache-invalidator",
		"uncached list p99, page 1:", "uncached list p99, page 100:"}
	if len(rep.Rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%s", len(rep.Rows), len(want), rep.Markdown())
	}
	for i, w := range want {
		r := rep.Rows[i]
		if !strings.Contains(r.Scenario, w) || r.Value <= 0 {
			t.Errorf("row %d: %+v, want %q with a figure", i, r, w)
		}
		if d := r.Detail; d != nil && (d.Project.Failed > 0 || d.Floor.Failed > 0 || d.Project.Requests == 0 || d.Floor.Requests == 0) {
			t.Errorf("%s: %+v", r.Scenario, d)
		}
	}
	if rep.Machine.Cores == 0 || rep.Machine.Postgres == "" || rep.Machine.Redis == "" || rep.Machine.NATS == "" {
		t.Errorf("machine facts %+v", rep.Machine)
	}
	if md := rep.Markdown(); !strings.Contains(md, "| scenario | project | floor (same run) |") {
		t.Errorf("no table:\n%s", md)
	}
}
