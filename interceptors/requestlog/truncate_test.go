package requestlog

import (
	"testing"
	"unicode/utf8"
)

// truncate cuts by bytes but never through a character: what it leaves is
// valid UTF-8 when what it was given was.
func TestTruncate_NeverCutsACharacter(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"abcdef", 4, "abcd"},
		{"ab", 4, "ab"},
		{"aé", 2, "a"},   // é is two bytes: cut before it
		{"aé", 3, "aé"},  // fits
		{"a€b", 3, "a"},  // € is three bytes
		{"a€b", 4, "a€"}, // fits
		{"😀😀", 5, "😀"},
	} {
		got := truncate(c.in, c.n)
		if got != c.want || !utf8.ValidString(got) || len(got) > c.n {
			t.Errorf("truncate(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
