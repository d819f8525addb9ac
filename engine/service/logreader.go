package service

import (
	"errors"
	"io"

	"github.com/ocsfmap/ocsfmap/engine/wal"
)

// errRangeEnd stops a log read at the end of the range.
var errRangeEnd = errors.New("end of range")

// newLogReader streams the NDJSON alerts of the log records [from, to).
func newLogReader(l *wal.Log, from, to wal.LSN) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		next, err := l.Read(from, func(lsn wal.LSN, rec []byte) error {
			if lsn >= to {
				return errRangeEnd
			}
			b, err := decodeBatch(rec)
			if err != nil {
				return err
			}
			_, err = pw.Write(b.ndjson)
			return err
		})
		switch {
		case errors.Is(err, errRangeEnd):
			err = nil
		case err == nil && next < to:
			err = errors.New("write-ahead log: records of the range are missing")
		}
		pw.CloseWithError(err)
	}()
	return pr
}
