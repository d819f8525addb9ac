package source

import "github.com/ocsfmap/ocsfmap/engine/internal/box"

// boxes hands out extracted strings and numbers as interfaces without one
// heap allocation per value (see engine/internal/box).
type boxes struct {
	strs   box.Strings
	floats box.Slab[float64]
}

func (b *boxes) str(s string) any { return b.strs.Box(s) }

func (b *boxes) float(f float64) any { return b.floats.Box(f) }
