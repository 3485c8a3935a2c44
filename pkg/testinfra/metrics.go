package testinfra

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// LintMetrics scrapes url (a service's /metrics) and fails the test on every
// problem promlint finds (a counter without _total, a unit not in the name or
// not a base unit, a missing help text, …) and on every metric whose name
// lacks the application prefix ticketsys_, other than the standard Go runtime
// and process collectors' go_* and process_*. Call it after some traffic, so
// that the labelled series exist. It returns the scraped text.
func LintMetrics(t testing.TB, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %d %v", url, res.StatusCode, err)
	}
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatalf("promlint %s: %v", url, err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	families := 0
	for line := range strings.Lines(string(body)) {
		name, ok := strings.CutPrefix(line, "# TYPE ")
		if !ok {
			continue
		}
		families++
		name, _, _ = strings.Cut(name, " ")
		if !strings.HasPrefix(name, "ticketsys_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			t.Errorf("metric %s lacks the ticketsys_ prefix", name)
		}
	}
	if families == 0 {
		t.Fatalf("%s exports no metrics:\n%s", url, body)
	}
	return string(body)
}
