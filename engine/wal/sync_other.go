//go:build !linux

package wal

import "os"

// datasync flushes a segment's data; outside Linux, File.Sync is the portable
// full flush (F_FULLFSYNC on macOS).
func datasync(f *os.File) error { return f.Sync() }
