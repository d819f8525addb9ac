//go:build linux

package wal

import (
	"os"
	"syscall"
)

// datasync flushes a segment's data. fdatasync skips the inode timestamps
// that fsync would also write; the file size, which an append changes, is
// still flushed because reading the data back needs it.
func datasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}
