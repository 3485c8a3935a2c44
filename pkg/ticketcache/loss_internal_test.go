package ticketcache

import "testing"

// keySlot agrees with Redis Cluster's own examples (CLUSTER KEYSLOT), and
// tagInSlots finds a tag in any range.
func TestKeySlot(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]uint16{"123456789": 12739, "foo": 12182, "bar": 5061, "": 0} {
		if got := keySlot(key); got != want {
			t.Errorf("keySlot(%q) = %d, want %d", key, got, want)
		}
	}
	for _, r := range [][2]int{{0, 5460}, {5461, 10922}, {10923, 16383}, {42, 42}, {16383, 16383}} {
		tag := tagInSlots(r[0], r[1])
		if s := int(keySlot(tag)); s < r[0] || s > r[1] {
			t.Errorf("tagInSlots(%d, %d) = %q in slot %d", r[0], r[1], tag, s)
		}
	}
}
