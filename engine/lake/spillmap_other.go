//go:build !linux

package lake

import (
	"errors"
	"os"
)

// Elsewhere spill files are read with ReadAt, into the writer's memory.
func mapSpill(*os.File, int64) ([]byte, error) { return nil, errors.ErrUnsupported }
func unmapSpill([]byte) error                  { return nil }
func dropPages([]byte)                         {}
