package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSpill_ClosesItsDirectoryAndRefusesLinks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	s, err := openSpill(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	s.close()
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("spill directory mode %v (%v), want 0700", info.Mode().Perm(), err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(t.TempDir(), link); err != nil {
		t.Fatal(err)
	}
	if _, err := openSpill(link, 1<<20); err == nil {
		t.Fatal("a symlinked spill directory was accepted")
	}
}

func TestSpill_BatchesComeBackInOrderAndSurviveAReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spill")
	s, err := openSpill(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.append(&logBatch{ID: "b", Rows: []*RequestLog{{RequestID: string(rune('a' + i)), StartTime: time.Now().UTC()}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := openSpill(dir, 1<<20); err != nil {
		t.Fatal(err) // a second opener spills beside, in pid-N
	}
	s.close()
	again, err := openSpill(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer again.close()
	var got string
	for !again.empty() {
		batch, err := again.oldest()
		if err != nil {
			t.Fatal(err)
		}
		got += batch.Rows[0].RequestID
		again.done(1, false)
	}
	if got != "abc" {
		t.Errorf("replayed %q, want abc in order", got)
	}
	big := make([]*RequestLog, 40000)
	for i := range big {
		id, _ := randomString(24) // incompressible enough
		big[i] = &RequestLog{RequestID: id}
	}
	if err := again.append(&logBatch{Rows: big}); err == nil {
		t.Error("a batch past the cap was accepted")
	}
}
