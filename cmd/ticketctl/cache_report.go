package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// cacheReport is what cache check prints: counts, and every stale entry with its reason.
type cacheReport struct {
	Checked        int            `json:"checked"`
	Fresh          int            `json:"fresh"`
	Stale          int            `json:"stale"`
	Superseded     int            `json:"superseded"`
	Skipped        int            `json:"skipped"`
	SkippedReasons map[string]int `json:"skipped_reasons"`
	StaleEntries   []finding      `json:"stale_entries"`
}

func newReport(found []finding) cacheReport {
	r := cacheReport{SkippedReasons: map[string]int{}, StaleEntries: []finding{}}
	for _, f := range found {
		r.Checked++
		switch f.Verdict {
		case verdictFresh:
			r.Fresh++
		case verdictStale:
			r.Stale++
			r.StaleEntries = append(r.StaleEntries, f)
		case verdictSuperseded:
			r.Superseded++
		case verdictSkipped:
			r.Skipped++
			r.SkippedReasons[f.Reason]++
		}
	}
	sort.Slice(r.StaleEntries, func(i, j int) bool { return r.StaleEntries[i].Key < r.StaleEntries[j].Key })
	return r
}

func (r cacheReport) print(a *app, asJSON bool) error {
	if asJSON {
		return a.printJSON(r)
	}
	for _, f := range r.StaleEntries {
		if _, err := fmt.Fprintf(a.stdout, "stale  %-6s  %s  %s\n", f.Kind, f.Key, f.Reason); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(a.stdout, "checked %d: %d fresh, %d stale, %d superseded, %d skipped%s\n",
		r.Checked, r.Fresh, r.Stale, r.Superseded, r.Skipped, r.skippedNote())
	return err
}

// skippedNote explains the skipped count, e.g. " (cursor pages not audited: 4)".
func (r cacheReport) skippedNote() string {
	if len(r.SkippedReasons) == 0 {
		return ""
	}
	reasons := make([]string, 0, len(r.SkippedReasons))
	for why, n := range r.SkippedReasons {
		reasons = append(reasons, fmt.Sprintf("%s: %d", why, n))
	}
	sort.Strings(reasons)
	return " (" + strings.Join(reasons, ", ") + ")"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// printJSON prints v as one line of JSON on stdout, for --json.
func (a *app) printJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.stdout, "%s\n", b)
	return err
}

// infof prints a progress note on stderr, where it does not mix with the report.
func (a *app) infof(format string, args ...any) {
	fmt.Fprintf(a.stderr, "ticketctl: "+format+"\n", args...)
}
