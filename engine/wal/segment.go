package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	headerSize = 8
	// flagMore marks a record that is not the last of its Append.
	flagMore = 1 << 31
	// MaxRecordBytes is the largest record Append takes. Bit 31 of the length
	// word is the "more" flag; 1 GiB also keeps one bad length word from
	// making a reader allocate gigabytes.
	MaxRecordBytes = 1 << 30
	// indexEvery is the spacing of the in-memory offset marks: a Read
	// starting in the middle of a segment skips at most this many record
	// headers, while the marks cost 8 bytes per indexEvery records.
	indexEvery = 64
	segSuffix  = ".wal"
	readBuf    = 256 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// segment is one file of the log. Every field but refs and dead is written
// by the writer goroutine (or Open) and read by others under Log.mu.
type segment struct {
	first LSN    // LSN of its first record, also its file name
	path  string // full path
	rf    *os.File
	size  int64   // bytes durable (and, outside a commit, written)
	count uint64  // records durable
	index []int64 // index[k] = offset of record first+k*indexEvery

	refs int  // Reads using rf
	dead bool // removed or log closed: close rf when refs drops to 0
}

func segName(first LSN) string { return fmt.Sprintf("%020d%s", uint64(first), segSuffix) }

// parseSegName returns the first LSN of a segment file name, or false for a
// file that is not a segment (a stray file in the folder is left alone).
func parseSegName(name string) (LSN, bool) {
	if len(name) != 20+len(segSuffix) || !strings.HasSuffix(name, segSuffix) {
		return 0, false
	}
	n, err := strconv.ParseUint(name[:20], 10, 64)
	if err != nil || n == 0 {
		return 0, false
	}
	return LSN(n), true
}

// next is the LSN after the segment's last durable record.
func (s *segment) next() LSN { return s.first + LSN(s.count) }

// appendRecord encodes one record onto buf.
func appendRecord(buf, data []byte, more bool) []byte {
	return append(appendHeader(buf, data, more), data...)
}

// appendHeader encodes the header of the record holding data onto buf.
func appendHeader(buf, data []byte, more bool) []byte {
	n := uint32(len(data))
	if more {
		n |= flagMore
	}
	buf = binary.LittleEndian.AppendUint32(buf, n)
	return binary.LittleEndian.AppendUint32(buf, crc32.Checksum(data, castagnoli))
}

var (
	// errTorn: the bytes end inside a record (a write cut short).
	errTorn = errors.New("record cut short")
	// errBadRecord: a header or checksum that no complete write produces.
	errBadRecord = errors.New("record header or checksum invalid")
)

// recReader reads records sequentially from a section of a segment file.
type recReader struct {
	br    *bufio.Reader
	off   int64 // offset of the next record
	limit int64 // end of the section
	data  []byte
	hdr   [headerSize]byte
}

func (r *recReader) reset(f *os.File, off, limit int64) {
	sr := io.NewSectionReader(f, off, limit-off)
	if r.br == nil {
		r.br = bufio.NewReaderSize(sr, readBuf)
	} else {
		r.br.Reset(sr)
	}
	r.off, r.limit = off, limit
}

// next returns the next record's data (valid until the following call) and
// its "more" flag; io.EOF exactly at the end of the section. When skip is
// set, the data is stepped over unread and unchecked.
func (r *recReader) next(skip bool) (data []byte, more bool, err error) {
	if r.off == r.limit {
		return nil, false, io.EOF
	}
	if r.limit-r.off < headerSize {
		return nil, false, errTorn
	}
	if _, err := io.ReadFull(r.br, r.hdr[:]); err != nil {
		return nil, false, fmt.Errorf("read header at %d: %w", r.off, err)
	}
	word := binary.LittleEndian.Uint32(r.hdr[0:4])
	sum := binary.LittleEndian.Uint32(r.hdr[4:8])
	more = word&flagMore != 0
	n := int64(word &^ flagMore)
	if n == 0 || n > MaxRecordBytes {
		return nil, false, errBadRecord
	}
	if n > r.limit-r.off-headerSize {
		return nil, false, errTorn
	}
	if skip {
		if _, err := r.br.Discard(int(n)); err != nil {
			return nil, false, fmt.Errorf("read record at %d: %w", r.off, err)
		}
		r.off += headerSize + n
		return nil, more, nil
	}
	if int64(cap(r.data)) < n {
		r.data = make([]byte, n)
	}
	r.data = r.data[:n]
	if _, err := io.ReadFull(r.br, r.data); err != nil {
		return nil, false, fmt.Errorf("read record at %d: %w", r.off, err)
	}
	if crc32.Checksum(r.data, castagnoli) != sum {
		return nil, false, errBadRecord
	}
	r.off += headerSize + n
	return r.data, more, nil
}

// scanResult is what a full read of a segment file found.
type scanResult struct {
	good    int64   // offset just after the last complete Append
	count   uint64  // records up to good
	index   []int64 // offset marks up to good
	size    int64   // file size
	problem error   // why the scan stopped before size (nil when good == size)
	// torn: the problem has a shape an interrupted write leaves (the file
	// ends inside a record or an Append's group, or only zeros follow).
	// Anything else — a checksum that does not match with bytes after it, a
	// length no write produces — is damage to bytes once written whole.
	torn bool
	// walked counts the records past good by their length words alone,
	// up to the first one that cannot be a record: the size of the loss
	// as far as it can be told.
	walked uint64
}

// maxRecords bounds the LSNs n bytes can hold: every record takes at least
// a header and one byte of data. LSNs past a cut are skipped up to it, so
// none that a damaged record could have carried is handed out again.
func maxRecords(n int64) uint64 { return uint64((n + headerSize) / (headerSize + 1)) }

// scanSegment reads every record of a segment, checking each checksum and
// that each Append's group of records is complete, and returns where the
// valid prefix ends and what lies past it.
func scanSegment(f *os.File) (scanResult, error) {
	fi, err := f.Stat()
	if err != nil {
		return scanResult{}, err
	}
	res := scanResult{size: fi.Size()}
	var (
		r       recReader
		count   uint64 // records read, including an unfinished group
		index   []int64
		inGroup bool
	)
	r.reset(f, 0, res.size)
	for {
		off := r.off
		_, more, err := r.next(false)
		if err == io.EOF {
			if inGroup {
				res.problem = fmt.Errorf("at offset %d: last Append's records incomplete", r.off)
				res.torn = true
			}
			break
		}
		if err != nil {
			if !errors.Is(err, errTorn) && !errors.Is(err, errBadRecord) {
				return res, err // an I/O error says nothing about the data
			}
			res.problem = fmt.Errorf("at offset %d: %w", off, err)
			if errors.Is(err, errTorn) {
				// A write cut short leaves nothing after its last record; a
				// damaged length word pointing past the end can.
				found, err := recordAfter(f, off+1, res.size)
				if err != nil {
					return res, err
				}
				res.torn = !found
			} else if res.torn, err = zeroFrom(f, off, res.size); err != nil {
				return res, err
			}
			break
		}
		if count%indexEvery == 0 {
			index = append(index, off)
		}
		count++
		inGroup = more
		if !more {
			res.good, res.count = r.off, count
		}
	}
	// Drop marks of records past the cut.
	for len(index) > 0 && uint64(len(index)-1)*indexEvery >= res.count {
		index = index[:len(index)-1]
	}
	res.index = index
	if res.problem != nil {
		if res.walked, err = walkLengths(f, res.good, res.size, nil); err != nil {
			return res, err
		}
	}
	return res, nil
}

// zeroFrom tells whether the file holds only zero bytes from off to size: a
// tail the file system extended but whose data never reached the disk.
func zeroFrom(f *os.File, off, size int64) (bool, error) {
	buf := make([]byte, 64<<10)
	for off < size {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		for _, b := range buf[:n] {
			if b != 0 {
				return false, nil
			}
		}
		off += int64(n)
		if err != nil && off < size {
			return false, err
		}
	}
	return true, nil
}

// recordAfter tells whether a valid record (length and checksum) starts
// anywhere in [off, size). It tries every offset, checking the checksum only
// where the length fits; past a budget of checksummed bytes it gives up and
// answers true, so what it cannot clear is reported rather than cut quietly.
func recordAfter(f *os.File, off, size int64) (bool, error) {
	if size-off < headerSize+1 {
		return false, nil
	}
	if size-off > 256<<20 {
		return true, nil
	}
	buf := make([]byte, size-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return false, err
	}
	budget := 4*int64(len(buf)) + 1<<20
	for p := 0; p+headerSize < len(buf); p++ {
		n := int64(binary.LittleEndian.Uint32(buf[p:]) &^ flagMore)
		if n == 0 || n > int64(len(buf)-p-headerSize) {
			continue
		}
		if budget -= n; budget < 0 {
			return true, nil
		}
		data := buf[p+headerSize : int64(p+headerSize)+n]
		if crc32.Checksum(data, castagnoli) == binary.LittleEndian.Uint32(buf[p+4:]) {
			return true, nil
		}
	}
	return false, nil
}

// walkLengths steps from off through the records of a damaged or torn
// stretch by their length words, without trusting their checksums, and
// counts them; fn, when set, gets each record's data and whether its
// checksum matches. It stops at the end or at a length word that cannot be
// right, so after a damaged length word the count is a guess.
func walkLengths(f *os.File, off, size int64, fn func(i uint64, data []byte, intact bool) error) (uint64, error) {
	var (
		hdr [headerSize]byte
		buf []byte
		n   uint64
	)
	for size-off >= headerSize {
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			return n, err
		}
		l := int64(binary.LittleEndian.Uint32(hdr[0:4]) &^ flagMore)
		if l == 0 || l > MaxRecordBytes || l > size-off-headerSize {
			break
		}
		if fn != nil {
			buf = slices.Grow(buf[:0], int(l))[:l]
			if _, err := f.ReadAt(buf, off+headerSize); err != nil {
				return n, err
			}
			intact := crc32.Checksum(buf, castagnoli) == binary.LittleEndian.Uint32(hdr[4:8])
			if err := fn(n, buf, intact); err != nil {
				return n, err
			}
		}
		n++
		off += headerSize + l
	}
	return n, nil
}

func segPath(dir string, first LSN) string { return filepath.Join(dir, segName(first)) }
