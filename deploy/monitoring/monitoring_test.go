// Package monitoring holds the alert rules and the Prometheus Operator
// objects; its tests keep them one definition and in step with the metrics
// the services export. promtool checks and unit-tests the rules
// (make rules-test, in make lint).
package monitoring

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ticketsys/ticketsys/deploy/internal/exported"
)

type ruleFile struct {
	Groups []any `json:"groups"`
}

// The PrometheusRule carries exactly the rule file's groups.
func TestPrometheusRuleIsTheRuleFile(t *testing.T) {
	var file ruleFile
	read(t, "ticketsys.rules.yaml", &file)
	var pr struct {
		Kind string   `json:"kind"`
		Spec ruleFile `json:"spec"`
	}
	read(t, "prometheusrule.yaml", &pr)
	if pr.Kind != "PrometheusRule" || len(file.Groups) == 0 {
		t.Fatalf("kind %q, %d groups in the rule file", pr.Kind, len(file.Groups))
	}
	if !reflect.DeepEqual(pr.Spec.Groups, file.Groups) {
		t.Fatal("prometheusrule.yaml's groups differ from ticketsys.rules.yaml: copy them over")
	}
}

// Every alert names a metric a service exports, has a runbook section in
// docs/operations.md, and the alerts are all there.
func TestAlertsUseExportedMetricsAndHaveRunbooks(t *testing.T) {
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	read(t, "ticketsys.rules.yaml", &file)
	source := exported.Source(t, "../..")
	ops, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	metric := regexp.MustCompile(`\b([a-z][a-z0-9]*_[a-z0-9_]+)\b`)
	seen := map[string]bool{}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			seen[r.Alert] = true
			names := 0
			for _, m := range metric.FindAllString(r.Expr, -1) {
				if m == "histogram_quantile" {
					continue
				}
				name := strings.TrimSuffix(m, "_bucket")
				names++
				if !exported.Exports(source, name) {
					t.Errorf("%s uses %s, which no service exports", r.Alert, name)
				}
			}
			if names == 0 {
				t.Errorf("%s names no metric", r.Alert)
			}
			anchor := strings.ToLower(r.Alert)
			if !strings.HasSuffix(r.Annotations["runbook_url"], "docs/operations.md#"+anchor) {
				t.Errorf("%s: runbook_url %q is not docs/operations.md#%s", r.Alert, r.Annotations["runbook_url"], anchor)
			}
			if !strings.Contains(string(ops), "### "+r.Alert+"\n") {
				t.Errorf("%s has no runbook section (### %s) in docs/operations.md", r.Alert, r.Alert)
			}
		}
	}
	for _, want := range []string{"TicketsysConsumerLag", "TicketsysConsumerLagAge", "TicketsysDLQNotEmpty",
		"TicketsysOutboxBacklogOld", "TicketsysNoRelayLeader", "TicketsysRedisBreakerOpen", "TicketsysHigh5xxRatio"} {
		if !seen[want] {
			t.Errorf("alert %s is missing", want)
		}
	}
}

func read(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}
