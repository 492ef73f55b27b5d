package segments

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

const (
	// maxLineErrors is how many rejected lines an ImportResult lists.
	maxLineErrors = 100
	// maxLine is the longest import line accepted.
	maxLine = 64 << 10
)

// ImportResult summarises an import.
type ImportResult struct {
	// Imported counts profiles written.
	Imported int `json:"imported"`
	// Rejected counts malformed lines; none of them stopped the others.
	Rejected int `json:"rejected"`
	// Errors lists the first rejected lines.
	Errors []LineError `json:"errors,omitempty"`
}

// LineError is one rejected import line.
type LineError struct {
	// Line is the 1-based line number.
	Line int `json:"line"`
	// Field names the offending field, when one is to blame.
	Field string `json:"field,omitempty"`
	// Reason says what is wrong.
	Reason string `json:"reason"`
}

// importChunk is one pipeline's worth of profiles: keys and values in one
// arena, addressed by offsets because the arena grows while it fills.
type importChunk struct {
	arena []byte
	offs  []int   // per profile: key start, value start, value end
	ttls  []int64 // per profile, ms
	users []byte  // newline-separated, for the invalidation message
}

func (c *importChunk) reset() {
	c.arena, c.offs, c.ttls, c.users = c.arena[:0], c.offs[:0], c.ttls[:0], c.users[:0]
}

func (c *importChunk) len() int { return len(c.ttls) }

// Import reads profiles as JSON lines (gzip-compressed or not, detected by its
// magic bytes) and writes them with pipelined SET … PX in chunks of
// Config.ImportChunk, while the next chunk is being decoded. Each line replaces
// the user's profile, so importing a file again is harmless. Malformed lines
// are counted and the first 100 reported with their line numbers; they do not
// stop the others. An unreadable stream (errors.Is ErrInvalid) or a Redis
// failure ends the import with an error; the result counts what was done.
func (s *Store) Import(ctx context.Context, r io.Reader) (ImportResult, error) {
	var res ImportResult
	br := bufio.NewReaderSize(r, 256<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return res, fmt.Errorf("import: %w: gzip: %w", ErrInvalid, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 256<<10)
	}

	// Lines are spread over lanes by user, so one user's lines keep their order;
	// each lane's sender goroutine writes full chunks while this one decodes,
	// and the lanes keep several pipelines in flight so Redis never waits for
	// the next one.
	var (
		lanes    [importLanes]importLane
		failed   atomic.Bool
		errOnce  sync.Once
		sendErr  error
		imported atomic.Int64
		wg       sync.WaitGroup
	)
	for i := range lanes {
		ln := &lanes[i]
		ln.full = make(chan *importChunk, 1)
		ln.free = make(chan *importChunk, 2)
		ln.free <- &importChunk{}
		ln.cur = &importChunk{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range ln.full {
				if !failed.Load() {
					if err := s.writeChunk(ctx, c); err != nil {
						errOnce.Do(func() { sendErr = err })
						failed.Store(true)
					} else {
						imported.Add(int64(c.len()))
					}
				}
				c.reset()
				ln.free <- c
			}
		}()
	}
	finish := func(err error) (ImportResult, error) {
		for i := range lanes {
			close(lanes[i].full)
		}
		wg.Wait()
		res.Imported = int(imported.Load())
		if sendErr != nil {
			return res, sendErr
		}
		return res, err
	}
	send := func(ln *importLane) error {
		if failed.Load() {
			return errStop
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("import: %w", err)
		}
		ln.full <- ln.cur
		ln.cur = <-ln.free
		return nil
	}

	var (
		dec  lineDecoder
		long []byte
		now  = s.now()
		seed = maphash.MakeSeed()
	)
	for lineNo := 1; ; lineNo++ {
		line, rerr := br.ReadSlice('\n')
		tooLong := false
		if rerr == bufio.ErrBufferFull {
			long = append(long[:0], line...)
			for rerr == bufio.ErrBufferFull {
				line, rerr = br.ReadSlice('\n')
				if len(long)+len(line) <= maxLine {
					long = append(long, line...)
				} else {
					tooLong = true
				}
			}
			line = long
		}
		if rerr != nil && rerr != io.EOF {
			return finish(fmt.Errorf("import line %d: %w: read: %w", lineNo, ErrInvalid, rerr))
		}
		if tooLong || len(line) > maxLine {
			res.reject(lineNo, fieldErr("", "longer than %d bytes", maxLine))
		} else if len(bytes.TrimSpace(line)) > 0 {
			if err := dec.decode(line, now, s.cfg.DefaultTTL); err != nil {
				res.reject(lineNo, err)
			} else {
				ln := &lanes[maphash.String(seed, dec.user)%importLanes]
				ln.cur.add(s, &dec)
				if ln.cur.len() >= s.cfg.ImportChunk {
					if err := send(ln); err != nil {
						return finish(stopped(err))
					}
				}
			}
		}
		if rerr == io.EOF {
			for i := range lanes {
				if lanes[i].cur.len() > 0 {
					if err := send(&lanes[i]); err != nil {
						return finish(stopped(err))
					}
				}
			}
			return finish(nil)
		}
	}
}

// importLanes is the number of import pipelines in flight.
const importLanes = 3

// importLane is one sender of an import: the chunk being filled, and the
// chunks on their way to and back from its sender goroutine.
type importLane struct {
	cur        *importChunk
	full, free chan *importChunk
}

// errStop reports that a sender failed; its error is the one returned.
var errStop = errors.New("import stopped")

func stopped(err error) error {
	if err == errStop {
		return nil
	}
	return err
}

func (res *ImportResult) reject(line int, err error) {
	res.Rejected++
	if len(res.Errors) >= maxLineErrors {
		return
	}
	le := LineError{Line: line, Reason: err.Error()}
	var fe *FieldError
	if errors.As(err, &fe) {
		le.Field, le.Reason = fe.Field, fe.Reason
	}
	res.Errors = append(res.Errors, le)
}

// add appends the decoded line to the chunk.
func (c *importChunk) add(s *Store, d *lineDecoder) {
	c.offs = append(c.offs, len(c.arena))
	c.arena = s.keys.AppendUser(c.arena, d.user, "p")
	c.offs = append(c.offs, len(c.arena))
	c.arena = appendRecord(c.arena, &d.rec)
	c.offs = append(c.offs, len(c.arena))
	c.ttls = append(c.ttls, d.ttl.Milliseconds())
	c.users = append(append(c.users, d.user...), '\n')
}

// writeChunk sends the chunk's SETs and one invalidation message in a pipeline.
func (s *Store) writeChunk(ctx context.Context, c *importChunk) error {
	pipe := s.rdb.Pipeline()
	for i := range c.ttls {
		k0, v0, v1 := c.offs[3*i], c.offs[3*i+1], c.offs[3*i+2]
		// The key aliases the arena, which stays untouched until Exec returns.
		key := unsafe.String(&c.arena[k0], v0-k0)
		pipe.Set(ctx, key, c.arena[v0:v1:v1], time.Duration(c.ttls[i])*time.Millisecond)
	}
	publishUsers(ctx, pipe, s.channel, bytes.TrimSuffix(c.users, []byte{'\n'}))
	cmds, err := pipe.Exec(ctx)
	if err != nil {
		for _, cmd := range cmds {
			if cmd.Err() != nil {
				return fmt.Errorf("import: write profiles: %w", cmd.Err())
			}
		}
		return fmt.Errorf("import: write profiles: %w", err)
	}
	return nil
}
