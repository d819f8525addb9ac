package exprenv

import "github.com/ocsfmap/ocsfmap/engine/internal/box"

// boxes hands out the results a native evaluation computes (a
// concatenation, an epoch time) as interfaces without one heap allocation per
// value (see engine/internal/box).
type boxes struct {
	strs box.Strings
	ints box.Slab[int64]
}

func (b *boxes) str(s string) any { return b.strs.Box(s) }

func (b *boxes) int64(i int64) any { return b.ints.Box(i) }
