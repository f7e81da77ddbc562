package requestid

import (
	"testing"
	"time"
)

// Ids made later sort later (the request log's index appends them), and
// ids made in the same millisecond still differ.
func TestNewID_SortsByTimeAndIsUnique(t *testing.T) {
	base := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	prevMax, curMax := "", "" // the greatest id of the previous and of this millisecond
	for i := range 2000 {
		now := base.Add(time.Duration(i/10) * time.Millisecond) // ten ids per millisecond
		id := newID(now)
		if len(id) != 32 || !valid(id) {
			t.Fatalf("id %q", id)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
		if i%10 == 0 {
			prevMax, curMax = curMax, ""
		}
		if id <= prevMax {
			t.Fatalf("id %q made at %v sorts before %q, made a millisecond earlier", id, now, prevMax)
		}
		curMax = max(curMax, id)
	}
}
