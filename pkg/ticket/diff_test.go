package ticket

import "testing"

func TestChangedFieldsAndRank(t *testing.T) {
	t.Parallel()
	a := Ticket{Title: "a", Tags: []string{"x"}}
	if got := ChangedFields(a, a.Clone()); len(got) != 0 {
		t.Fatalf("no-op reported %v", got)
	}
	b := a.Clone()
	b.Tags[0] = "y"
	if a.Tags[0] != "x" {
		t.Fatal("Clone shares tags")
	}
	b.Status, b.Priority, b.Assignee = "closed", "urgent", "bob"
	got := ChangedFields(a, b)
	want := []string{"status", "priority", "assignee", "tags"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	order := []string{"low", "medium", "high", "urgent"}
	for i := 1; i < len(order); i++ {
		if PriorityRank(order[i]) <= PriorityRank(order[i-1]) {
			t.Fatalf("%s does not rank above %s", order[i], order[i-1])
		}
	}
	if PriorityRank("nope") != 0 {
		t.Fatal("unknown priority has a rank")
	}
	if !ValidStatus("in_progress") || ValidStatus("done") || !ValidPriority("low") || ValidPriority("") {
		t.Fatal("validity checks")
	}
}
