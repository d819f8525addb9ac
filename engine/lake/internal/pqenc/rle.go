package pqenc

import "encoding/binary"

// appendLevels appends levels in Parquet's RLE / bit-packed hybrid encoding
// with bit width width, preceded by its 4-byte length as data page v1 wants.
// Runs of 8 or more equal levels are run-length encoded, everything else is
// bit-packed in groups of 8 (the last group padded with zeros; readers stop
// at the page's value count).
func appendLevels(dst []byte, levels []int16, width int) []byte {
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	valueBytes := (width + 7) / 8
	for i := 0; i < len(levels); {
		if r := runLength(levels[i:]); r >= 8 {
			dst = binary.AppendUvarint(dst, uint64(r)<<1)
			v := uint16(levels[i])
			for k := range valueBytes {
				dst = append(dst, byte(v>>(8*k)))
			}
			i += r
			continue
		}
		// Bit-packed groups of 8 up to the next long run.
		j := i
		for j < len(levels) && (j == i || runLength(levels[j:]) < 8) {
			j += 8
		}
		groups := (j - i) / 8
		dst = binary.AppendUvarint(dst, uint64(groups)<<1|1)
		dst = packBits(dst, levels[i:min(j, len(levels))], groups*8, width)
		i = j
	}
	binary.LittleEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst
}

// runLength is how many leading levels equal the first.
func runLength(levels []int16) int {
	n := 1
	for n < len(levels) && levels[n] == levels[0] {
		n++
	}
	return n
}

// packBits appends n values (levels, then zeros) of width bits each, least
// significant bit first.
func packBits(dst []byte, levels []int16, n, width int) []byte {
	var acc uint64
	bits := 0
	for k := range n {
		var v uint64
		if k < len(levels) {
			v = uint64(levels[k])
		}
		acc |= v << bits
		bits += width
		for bits >= 8 {
			dst = append(dst, byte(acc))
			acc >>= 8
			bits -= 8
		}
	}
	if bits > 0 {
		dst = append(dst, byte(acc))
	}
	return dst
}
