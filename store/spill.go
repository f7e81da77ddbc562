package store

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// spill keeps request-log batches on local disk while the database cannot
// take them, and gives them back in order when it can. One file per batch
// ("<seq>.batch", a gzipped JSON logBatch: its id, rows and counted-only
// calls), written to a temporary name,
// fsynced and renamed, so a crash leaves whole batches or none; a batch is
// deleted only after the transaction that inserts it has committed. A crash
// between that commit and the delete replays the batch once more, and the
// batch's id, recorded in the same transaction as its rows, makes that
// replay a no-op: each batch is stored once.
//
// The directory belongs to one process, enforced with an exclusive lock on
// "<dir>/.lock" (unix). A second process on the same directory spills into
// "<dir>/pid-<pid>[-n]" instead; the owner of the directory adopts such
// subdirectories once their process is gone, so nothing is stranded.
//
// It is used by the LogWriter's goroutine only and is not safe for
// concurrent use.
type spill struct {
	dir     string
	max     int64 // bytes; appends past it fail with errSpillFull
	size    int64
	seq     uint64
	pending []string // batch files, oldest first
	rows    int64    // records in pending files, as far as known
	unlock  func()
}

var errSpillFull = errors.New("store: request-log spill is full")

const spillExt = ".batch"

func openSpill(dir string, max int64) (*spill, error) {
	if err := privateDir(dir); err != nil {
		return nil, err
	}
	s := &spill{dir: dir, max: max}
	unlock, err := lockDir(dir)
	owner := err == nil
	for n := 1; !owner && unlock == nil; n++ { // the first free pid-P[-N] beside
		s.dir = filepath.Join(dir, "pid-"+strconv.Itoa(os.Getpid()))
		if n > 1 {
			s.dir += "-" + strconv.Itoa(n)
		}
		if err := privateDir(s.dir); err != nil {
			return nil, err
		}
		if unlock, err = lockDir(s.dir); err != nil && n >= 64 {
			return nil, fmt.Errorf("store: lock spill directory %s: %w", s.dir, err)
		}
	}
	s.unlock = unlock
	if owner {
		s.adoptOrphans()
	}
	if err := s.scan(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// adoptOrphans moves the batches of "pid-*" subdirectories whose process is
// gone (their lock is free) into this directory, after its own.
func (s *spill) adoptOrphans() {
	subs, _ := filepath.Glob(filepath.Join(s.dir, "pid-*"))
	for _, sub := range subs {
		unlock, err := lockDir(sub)
		if err != nil {
			continue // its process still runs
		}
		files, _ := filepath.Glob(filepath.Join(sub, "*"+spillExt))
		slices.Sort(files)
		_ = s.scan()
		moved := true
		for _, f := range files {
			s.seq++
			if err := os.Rename(f, s.path(s.seq)); err != nil {
				moved = false // keep the rest where it is; try again next start
				break
			}
		}
		unlock()
		if moved {
			_ = os.RemoveAll(sub)
		}
	}
}

// scan finds the batches already on disk (a previous run's), oldest first.
func (s *spill) scan() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("store: spill directory: %w", err)
	}
	s.pending, s.size = s.pending[:0], 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, spillExt) {
			if strings.HasSuffix(name, ".tmp") {
				_ = os.Remove(filepath.Join(s.dir, name)) // a batch a crash interrupted
			}
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, spillExt), 10, 64)
		if err != nil {
			continue
		}
		if info, err := e.Info(); err == nil {
			s.size += info.Size()
		}
		s.seq = max(s.seq, n)
		s.pending = append(s.pending, filepath.Join(s.dir, name))
	}
	slices.Sort(s.pending) // fixed-width names sort by sequence
	s.rows = -1            // unknown until read
	if len(s.pending) == 0 {
		s.rows = 0
	}
	return nil
}

func (s *spill) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", seq, spillExt))
}

func (s *spill) empty() bool { return len(s.pending) == 0 }

// append writes batch durably as the newest file.
func (s *spill) append(batch *logBatch) error {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err := json.NewEncoder(zw).Encode(batch); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	data := buf.Bytes()
	if s.max > 0 && s.size+int64(len(data)) > s.max {
		return errSpillFull
	}
	s.seq++
	final := s.path(s.seq)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY|noFollow, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	syncDir(s.dir)
	s.pending = append(s.pending, final)
	s.size += int64(len(data))
	if s.rows >= 0 {
		s.rows += int64(len(batch.Rows))
	}
	return nil
}

// oldest reads the oldest batch.
func (s *spill) oldest() (*logBatch, error) {
	f, err := os.Open(s.pending[0])
	if err != nil {
		return nil, err
	}
	defer f.Close()
	batch := new(logBatch)
	zr, err := gzip.NewReader(f)
	if err == nil {
		err = json.NewDecoder(zr).Decode(batch)
	}
	if err != nil {
		return nil, fmt.Errorf("store: spilled batch %s: %w", filepath.Base(s.pending[0]), err)
	}
	return batch, nil
}

// done deletes the oldest batch, once it is in the database (or is
// unreadable: then it is kept aside as "<name>.bad" for a person to look
// at).
func (s *spill) done(rows int, bad bool) {
	path := s.pending[0]
	if info, err := os.Stat(path); err == nil {
		s.size -= info.Size()
	}
	if bad {
		_ = os.Rename(path, path+".bad")
	} else {
		_ = os.Remove(path)
	}
	s.pending = s.pending[1:]
	switch {
	case len(s.pending) == 0:
		s.rows = 0
	case s.rows >= 0:
		s.rows -= int64(rows)
	}
}

// close releases the directory. The lock file stays: unlinking it while
// another process waits on it would let two processes own the directory.
func (s *spill) close() {
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
}

// privateDir makes dir (0700) if needed, checks that it is a directory, not
// a link, owned by this user, and closes it to everyone else: batches hold
// request logs, and a directory another user can write to would let them
// plant batches to be replayed, or links to be written through.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("store: spill directory: %w", err)
	}
	info, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("store: spill directory: %w", err)
	}
	if !info.IsDir() || !ownedByMe(info) {
		return fmt.Errorf("store: spill directory %s must be a directory (not a link) of this user's", dir)
	}
	if info.Mode().Perm()&0o077 != 0 { // ours: close it to others
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("store: spill directory: %w", err)
		}
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
