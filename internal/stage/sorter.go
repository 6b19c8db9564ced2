package stage

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
)

// DefaultBuffer is the in-memory buffer size: big enough that a typical
// incremental run never touches the disk, small enough for a 256 MB budget.
const DefaultBuffer = 64 << 20

// Sorter collects records and yields them sorted by key. Equal keys keep no
// particular order, so callers make keys unique (for example with a
// sequence number).
type Sorter struct {
	dir    string
	keyLen int
	limit  int

	arena  []byte
	offs   []int
	spills []*os.File
	n      int64
	done   bool
}

// New returns a sorter whose keys are keyLen bytes long. Spill files go to
// dir (the system's temporary directory if empty); buffer bounds the memory
// held (DefaultBuffer if 0).
func New(dir string, keyLen, buffer int) *Sorter {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	return &Sorter{dir: dir, keyLen: keyLen, limit: buffer}
}

// Len returns the number of records added.
func (s *Sorter) Len() int64 { return s.n }

// Spills returns how many times the buffer was written to disk.
func (s *Sorter) Spills() int { return len(s.spills) }

// Add copies one record into the sorter.
func (s *Sorter) Add(key, val []byte) error {
	if len(key) != s.keyLen {
		return fmt.Errorf("stage: key is %d bytes, want %d", len(key), s.keyLen)
	}
	if s.done {
		return errors.New("stage: Add after Iterator")
	}
	need := len(key) + binary.MaxVarintLen64 + len(val)
	if len(s.arena)+need > s.limit && len(s.offs) > 0 {
		if err := s.spill(); err != nil {
			return err
		}
	}
	if len(s.arena)+need > cap(s.arena) {
		// Grow by hand: append's doubling would overshoot the limit by
		// up to 2x.
		grown := make([]byte, len(s.arena), min(max(2*cap(s.arena), 1<<20, len(s.arena)+need), max(s.limit, len(s.arena)+need)))
		copy(grown, s.arena)
		s.arena = grown
	}
	s.offs = append(s.offs, len(s.arena))
	s.arena = append(s.arena, key...)
	s.arena = binary.AppendUvarint(s.arena, uint64(len(val)))
	s.arena = append(s.arena, val...)
	s.n++
	return nil
}

// record returns the key and value stored at offset o.
func (s *Sorter) record(o int) (key, val []byte) {
	key = s.arena[o : o+s.keyLen]
	l, n := binary.Uvarint(s.arena[o+s.keyLen:])
	start := o + s.keyLen + n
	return key, s.arena[start : start+int(l)]
}

func (s *Sorter) sortBuffer() {
	slices.SortFunc(s.offs, func(a, b int) int {
		return bytes.Compare(s.arena[a:a+s.keyLen], s.arena[b:b+s.keyLen])
	})
}

func (s *Sorter) spill() error {
	s.sortBuffer()
	f, err := os.CreateTemp(s.dir, "forewarn-stage-*")
	if err != nil {
		return fmt.Errorf("stage: create spill file: %w", err)
	}
	// Unlink at once: the file disappears even if the process dies.
	_ = os.Remove(f.Name())
	s.spills = append(s.spills, f)
	w := bufio.NewWriterSize(f, 1<<20)
	for _, o := range s.offs {
		end := o + s.keyLen
		l, n := binary.Uvarint(s.arena[end:])
		end += n + int(l)
		if _, err := w.Write(s.arena[o:end]); err != nil {
			return fmt.Errorf("stage: write spill file: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("stage: write spill file: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("stage: rewind spill file: %w", err)
	}
	s.arena, s.offs = s.arena[:0], s.offs[:0]
	return nil
}

// Close releases the buffer and the spill files.
func (s *Sorter) Close() error {
	var errs []error
	for _, f := range s.spills {
		errs = append(errs, f.Close())
	}
	s.spills, s.arena, s.offs = nil, nil, nil
	return errors.Join(errs...)
}

// Iterator ends adding and returns the records in key order. The key and
// value it yields are valid until the next call of Next.
//
// Once the sorter has spilled, the records still in the buffer are
// spilled too and the buffer is released: the merge then holds only a
// read buffer per spill file (256 KiB each) instead of the whole buffer
// beside everything the caller allocates while it merges (a 10M-row
// ingest's writes and the database's page cache).
func (s *Sorter) Iterator() (*Iterator, error) {
	s.done = true
	if len(s.spills) > 0 && len(s.offs) > 0 {
		if err := s.spill(); err != nil {
			return nil, err
		}
	}
	if len(s.spills) > 0 {
		// Freed, and handed back to the system now: the runtime would
		// otherwise keep the pages resident and reuse them, and the
		// process's peak would be the buffer plus whatever the merge
		// allocates outside Go's heap (SQLite's page cache).
		s.arena, s.offs = nil, nil
		debug.FreeOSMemory()
	}
	s.sortBuffer()
	it := &Iterator{keyLen: s.keyLen}
	if len(s.offs) > 0 {
		it.sources = append(it.sources, &memSource{s: s})
	}
	for _, f := range s.spills {
		it.sources = append(it.sources, &fileSource{r: bufio.NewReaderSize(f, 256<<10), keyLen: s.keyLen})
	}
	for _, src := range it.sources {
		ok, err := src.next()
		if err != nil {
			return nil, err
		}
		if ok {
			it.h = append(it.h, src)
		}
	}
	heap.Init(&it.h)
	return it, nil
}

type source interface {
	next() (bool, error)
	key() []byte
	val() []byte
}

type memSource struct {
	s    *Sorter
	i    int
	k, v []byte
}

func (m *memSource) next() (bool, error) {
	if m.i >= len(m.s.offs) {
		return false, nil
	}
	m.k, m.v = m.s.record(m.s.offs[m.i])
	m.i++
	return true, nil
}
func (m *memSource) key() []byte { return m.k }
func (m *memSource) val() []byte { return m.v }

type fileSource struct {
	r      *bufio.Reader
	keyLen int
	buf    []byte
	vlen   int
}

func (f *fileSource) next() (bool, error) {
	if cap(f.buf) < f.keyLen {
		f.buf = make([]byte, f.keyLen, 256)
	}
	f.buf = f.buf[:f.keyLen]
	if _, err := io.ReadFull(f.r, f.buf); err != nil {
		if err == io.EOF {
			return false, nil
		}
		return false, fmt.Errorf("stage: read spill file: %w", err)
	}
	l, err := binary.ReadUvarint(f.r)
	if err != nil {
		return false, fmt.Errorf("stage: read spill file: %w", err)
	}
	f.buf = slices.Grow(f.buf, int(l))[:f.keyLen+int(l)]
	if _, err := io.ReadFull(f.r, f.buf[f.keyLen:]); err != nil {
		return false, fmt.Errorf("stage: read spill file: %w", err)
	}
	f.vlen = int(l)
	return true, nil
}
func (f *fileSource) key() []byte { return f.buf[:f.keyLen] }
func (f *fileSource) val() []byte { return f.buf[f.keyLen:] }

type sourceHeap []source

func (h sourceHeap) Len() int           { return len(h) }
func (h sourceHeap) Less(i, j int) bool { return bytes.Compare(h[i].key(), h[j].key()) < 0 }
func (h sourceHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *sourceHeap) Push(x any)        { *h = append(*h, x.(source)) }
func (h *sourceHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Iterator yields sorted records.
type Iterator struct {
	keyLen  int
	sources []source
	h       sourceHeap
	cur     source
	k, v    []byte
	err     error
}

// Next advances to the next record and reports whether there is one.
func (it *Iterator) Next() bool {
	if it.err != nil {
		return false
	}
	if it.cur != nil {
		// Advance the source we yielded last; it stays valid until now
		// because the caller was still reading it.
		ok, err := it.cur.next()
		if err != nil {
			it.err = err
			return false
		}
		if ok {
			heap.Push(&it.h, it.cur)
		}
		it.cur = nil
	}
	if len(it.h) == 0 {
		return false
	}
	it.cur = heap.Pop(&it.h).(source)
	it.k, it.v = it.cur.key(), it.cur.val()
	return true
}

// Key returns the current record's key.
func (it *Iterator) Key() []byte { return it.k }

// Value returns the current record's value.
func (it *Iterator) Value() []byte { return it.v }

// Err returns the first read error.
func (it *Iterator) Err() error { return it.err }
