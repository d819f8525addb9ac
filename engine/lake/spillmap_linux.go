package lake

import (
	"os"
	"syscall"
)

// mapSpill maps a spill file read-only. The pages are the page cache's own:
// reading a batch through the map copies nothing.
func mapSpill(f *os.File, size int64) ([]byte, error) {
	m, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err == nil {
		_ = syscall.Madvise(m, syscall.MADV_NOHUGEPAGE)
	}
	return m, err
}

// unmapSpill removes a map made by mapSpill.
func unmapSpill(b []byte) error { return syscall.Munmap(b) }

// dropPages takes b's pages out of the process (they stay in the page
// cache, and are mapped in again if read): a merged-past stretch of a spill
// stops counting towards the resident set.
func dropPages(b []byte) { _ = syscall.Madvise(b, syscall.MADV_DONTNEED) }
