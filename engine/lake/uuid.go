package lake

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// uuidGen makes UUIDv7s (RFC 9562): 48 bits of Unix milliseconds, then a
// 12-bit counter in rand_a so names made in one millisecond by one process
// still sort in creation order, then 62 random bits.
type uuidGen struct {
	mu     sync.Mutex
	lastMs int64
	seq    uint16
}

func (g *uuidGen) next(now time.Time) string {
	ms := now.UnixMilli()
	g.mu.Lock()
	if ms <= g.lastMs {
		ms = g.lastMs
		g.seq++
		if g.seq > 0xfff { // counter exhausted: borrow the next millisecond
			ms++
			g.seq = 0
		}
	} else {
		g.seq = 0
	}
	g.lastMs = ms
	seq := g.seq
	g.mu.Unlock()

	var u [16]byte
	_, _ = rand.Read(u[8:]) // crypto/rand.Read never fails (Go 1.24+)
	u[0] = byte(ms >> 40)
	u[1] = byte(ms >> 32)
	u[2] = byte(ms >> 24)
	u[3] = byte(ms >> 16)
	u[4] = byte(ms >> 8)
	u[5] = byte(ms)
	u[6] = 0x70 | byte(seq>>8) // version 7
	u[7] = byte(seq)
	u[8] = 0x80 | u[8]&0x3f // variant 10

	var out [36]byte
	hex.Encode(out[0:8], u[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], u[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], u[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], u[8:10])
	out[23] = '-'
	hex.Encode(out[24:], u[10:])
	return string(out[:])
}
