package dump

import (
	"errors"
	"sync"
	"sync/atomic"
)

// Pipelined hands out the records of a CSV Reader that a goroutine of its
// own splits ahead, so that splitting and what the caller does with each
// record (validation, filtering, staging) run on two cores, while a third
// goroutine of the Reader inflates. Records arrive in the order, with the
// line numbers and errors, that the Reader's Next gives them.
//
// Memory is bounded: the splitter fills at most pipelineBatches batches of
// at most pipelineRecords records, whose field bytes are copied into an
// arena of pipelineArena bytes (larger only for a batch of one record
// longer than that, which MaxLine bounds).
type Pipelined struct {
	d      *Reader
	free   chan *recordBatch
	full   chan *recordBatch
	done   chan struct{}
	once   sync.Once
	closed atomic.Bool

	rec Record       // the record handed out last
	cur *recordBatch // the batch being handed out
	i   int          // its next record
	err error        // io.EOF or the fatal error, once reached
}

// Sizes of the pipeline: a batch is cut at pipelineRecords records or
// pipelineArena bytes of field values; pipelineBatches batches circulate
// (one being filled, one being handed out, one waiting between them).
// Batches are large because every hand-over may wake a sleeping thread,
// which on a loaded machine waits for the kernel to schedule it: at 1,024
// records a 1M-row dry run took longer in wall time than on one goroutine
// at a load average of 18 on 2 CPUs. About 2 MiB of records and 2 MiB of
// values per batch.
const (
	pipelineRecords = 8192
	pipelineArena   = 2 << 20
	pipelineBatches = 3
)

// recordBatch is a run of consecutive results of Reader.Next: records whose
// fields live in arena, each with the *RowError the Reader gave instead (or
// nil), then err (io.EOF or fatal) if the stream ended in this batch.
type recordBatch struct {
	lines  [pipelineRecords]int64
	fields [pipelineRecords][NumColumns][]byte
	errs   [pipelineRecords]error
	n      int
	arena  []byte
	err    error
}

// ErrPipelineClosed is what a Pipelined returns after Close.
var ErrPipelineClosed = errors.New("the dump reader was closed")

// Pipeline starts splitting the records of d on a goroutine of its own and
// returns the Pipelined that hands them out. It works for a CSV dump; for
// NDJSON (whose records carry lists) it returns nil and d is used as is.
// From here on only the Pipelined may be used: d's Next, BytesRead and
// Columns must not be called. Close the Pipelined (which closes d).
func (d *Reader) Pipeline() *Pipelined {
	if d.format != FormatCSV {
		return nil
	}
	p := &Pipelined{
		d:    d,
		free: make(chan *recordBatch, pipelineBatches), full: make(chan *recordBatch, pipelineBatches),
		done: make(chan struct{}),
	}
	for range pipelineBatches {
		p.free <- &recordBatch{arena: make([]byte, 0, pipelineArena)}
	}
	go p.split()
	return p
}

// split runs Reader.Next and copies each result into a batch.
func (p *Pipelined) split() {
	for {
		var b *recordBatch
		select {
		case b = <-p.free:
		case <-p.done:
			return
		}
		b.n, b.err, b.arena = 0, nil, b.arena[:0]
		if cap(b.arena) > pipelineArena {
			// A batch grown for one huge record does not keep the memory.
			b.arena = make([]byte, 0, pipelineArena)
		}
		for b.n < pipelineRecords {
			rec, err := p.d.Next()
			if err != nil {
				var re *RowError
				if !errors.As(err, &re) {
					b.err = err
					break
				}
				b.lines[b.n] = re.Line
				b.errs[b.n] = err
				b.n++
				continue
			}
			size := 0
			for _, f := range rec.Fields {
				size += len(f)
			}
			if b.n > 0 && len(b.arena)+size > cap(b.arena) {
				// Cut the batch here; rec stays valid until the next
				// call of Next, so it opens the following batch.
				if !p.send(b) {
					return
				}
				select {
				case b = <-p.free:
				case <-p.done:
					return
				}
				b.n, b.err, b.arena = 0, nil, b.arena[:0]
			}
			b.copyRecord(rec)
		}
		if !p.send(b) || b.err != nil {
			return
		}
	}
}

// copyRecord appends rec to the batch, its fields copied into the arena.
// The arena grows only when it is empty and rec alone is larger.
func (b *recordBatch) copyRecord(rec *Record) {
	out := &b.fields[b.n]
	b.lines[b.n] = rec.Line
	for c, f := range rec.Fields {
		if len(f) == 0 {
			out[c] = f[:0:0] // nil stays nil
			continue
		}
		start := len(b.arena)
		b.arena = append(b.arena, f...)
		out[c] = b.arena[start:len(b.arena):len(b.arena)]
	}
	b.errs[b.n] = nil
	b.n++
}

func (p *Pipelined) send(b *recordBatch) bool {
	select {
	case p.full <- b:
		return true
	case <-p.done:
		return false
	}
}

// Next returns the next record, valid until the next call of Next, with
// the same results, in the same order, as Reader.Next. After Close it
// returns ErrPipelineClosed.
func (p *Pipelined) Next() (*Record, error) {
	if p.closed.Load() {
		// Whatever the splitter read after Close (an error of the
		// stopped inflater) is no result of the dump.
		return nil, ErrPipelineClosed
	}
	for {
		if p.cur != nil && p.i < p.cur.n {
			i := p.i
			p.i++
			if err := p.cur.errs[i]; err != nil {
				return nil, err
			}
			p.rec.Line, p.rec.Fields = p.cur.lines[i], p.cur.fields[i]
			return &p.rec, nil
		}
		if p.err != nil {
			return nil, p.err
		}
		if p.cur != nil {
			if p.cur.err != nil {
				p.err = p.cur.err
				continue
			}
			p.free <- p.cur
			p.cur = nil
		}
		select {
		case b := <-p.full:
			p.cur, p.i = b, 0
		case <-p.done:
			p.err = ErrPipelineClosed
		}
	}
}

// Close stops the splitting goroutine and the Reader's. It does not wait
// for them: the splitter ends as soon as a read it is blocked in returns,
// which for a plain (not gzip) body is when the caller closes the body, as
// it does after Close. It is safe to call more than once.
func (p *Pipelined) Close() error {
	p.once.Do(func() {
		p.closed.Store(true)
		close(p.done)
		p.d.Close()
	})
	return nil
}

// Format returns the format of the dump (always FormatCSV).
func (p *Pipelined) Format() Format { return p.d.format }

// Has reports whether the dump's header names column c.
func (p *Pipelined) Has(c Column) bool { return p.d.Has(c) }

// Records is what Reader and Pipelined have in common: the records of a
// dump, one at a time.
type Records interface {
	Next() (*Record, error)
}

var (
	_ Records = (*Reader)(nil)
	_ Records = (*Pipelined)(nil)
)
