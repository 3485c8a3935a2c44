// Package grafana holds the Grafana dashboard; its test keeps the dashboard
// in step with the metrics the services really export.
package grafana

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/ticketsys/ticketsys/deploy/internal/exported"
)

type dashboard struct {
	UID    string `json:"uid"`
	Panels []struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// selector finds metric names in PromQL: a name directly followed by a
// label matcher, as every expression of the dashboard writes them.
var selector = regexp.MustCompile(`\b([a-z][a-z0-9_]*)\{`)

func TestDashboardUsesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile("ticketsys-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard is not valid JSON: %v", err)
	}
	if d.UID == "" || len(d.Panels) == 0 {
		t.Fatal("dashboard without uid or panels")
	}

	source := exported.Source(t, "../..")
	ids := map[int]bool{}
	used := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range selector.FindAllStringSubmatch(tg.Expr, -1) {
				name := m[1]
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					name = strings.TrimSuffix(name, suffix)
				}
				used++
				if !exported.Exports(source, name) {
					t.Errorf("panel %q uses %s, which no service exports", p.Title, name)
				}
			}
		}
	}
	if used < 15 {
		t.Fatalf("only %d metric references found: is the selector pattern still right?", used)
	}
}
