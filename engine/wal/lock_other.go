//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package wal

import "os"

// lockDir is a no-op where flock is not available: the caller must make sure
// only one Log uses a folder.
func lockDir(dir string) (*os.File, error) { return nil, nil }
