package pqenc

import "encoding/binary"

// appendLevels appends levels in Parquet's RLE / bit-packed hybrid encoding
// with bit width width, preceded by its 4-byte length as data page v1 wants.
func appendLevels(dst []byte, levels []int16, width int) []byte {
	at := len(dst)
	dst = appendHybrid(append(dst, 0, 0, 0, 0), levels, width)
	binary.LittleEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst
}

// hybridValue is what the hybrid encoding holds here: definition and
// repetition levels, and dictionary indices.
type hybridValue interface{ ~int16 | ~uint32 }

// appendHybrid appends v (non-negative, under 1<<width) in the RLE /
// bit-packed hybrid encoding. Runs of 8 or more equal values are
// run-length encoded, everything else is bit-packed in groups of 8 (the
// last group padded with zeros; readers stop at the page's value count).
func appendHybrid[T hybridValue](dst []byte, v []T, width int) []byte {
	valueBytes := (width + 7) / 8
	for i := 0; i < len(v); {
		if r := runLength(v[i:]); r >= 8 {
			dst = binary.AppendUvarint(dst, uint64(r)<<1)
			x := uint64(v[i])
			for k := range valueBytes {
				dst = append(dst, byte(x>>(8*k)))
			}
			i += r
			continue
		}
		// Bit-packed groups of 8 up to the next long run.
		j := i
		for j < len(v) && (j == i || runLength(v[j:]) < 8) {
			j += 8
		}
		groups := (j - i) / 8
		dst = binary.AppendUvarint(dst, uint64(groups)<<1|1)
		dst = packBits(dst, v[i:min(j, len(v))], groups*8, width)
		i = j
	}
	return dst
}

// runLength is how many leading values equal the first.
func runLength[T hybridValue](v []T) int {
	n := 1
	for n < len(v) && v[n] == v[0] {
		n++
	}
	return n
}

// packBits appends n values (v, then zeros) of width bits each, least
// significant bit first.
func packBits[T hybridValue](dst []byte, v []T, n, width int) []byte {
	var acc uint64
	bits := 0
	for k := range n {
		var x uint64
		if k < len(v) {
			x = uint64(v[k])
		}
		acc |= x << bits
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
