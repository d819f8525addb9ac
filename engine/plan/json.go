package plan

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the last mapped record as one line of OCSF JSON, keys
// in the tree's order, absent attributes left out.
func (m *Mapper) AppendJSON(dst []byte) []byte {
	if m.jsonRoot == nil {
		m.jsonRoot = m.mirror(m.p.Root)
	}
	return m.appendNode(dst, m.jsonRoot)
}

// jsonNode mirrors a node of the output tree with its presence index, so
// writing a record needs no map lookup per attribute.
type jsonNode struct {
	node *Node
	idx  int // index into Mapper.present; -1: never present
	kids []*jsonNode
}

func (m *Mapper) mirror(n *Node) *jsonNode {
	j := &jsonNode{node: n, idx: -1}
	if i, ok := m.p.present[n]; ok {
		j.idx = i
	}
	if n.Slot >= 0 {
		return j
	}
	kids := n.Children
	if n.Kind == KindList {
		kids = n.Items
	}
	for _, c := range kids {
		j.kids = append(j.kids, m.mirror(c))
	}
	return j
}

func (m *Mapper) has(j *jsonNode) bool { return j.idx >= 0 && m.present[j.idx] }

func (m *Mapper) appendNode(dst []byte, j *jsonNode) []byte {
	n := j.node
	if n.Slot >= 0 {
		return appendValue(dst, m.rec.Values[n.Slot], n)
	}
	switch n.Kind {
	case KindList:
		dst = append(dst, '[')
		first := true
		for _, it := range j.kids {
			if !m.has(it) {
				continue // an absent element is left out, not written as null
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = m.appendNode(dst, it)
		}
		return append(dst, ']')
	default: // objects, and JSON values built from several rules
		dst = append(dst, '{')
		first := true
		for _, c := range j.kids {
			if !m.has(c) {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendString(dst, c.node.Name)
			dst = append(dst, ':')
			dst = m.appendNode(dst, c)
		}
		return append(dst, '}')
	}
}

func appendValue(dst []byte, v Value, n *Node) []byte {
	switch v.Kind {
	case String:
		return appendString(dst, v.Str)
	case Int:
		if n.Kind == KindDatetime || (n.Elem != nil && n.Elem.Kind == KindDatetime && n.Kind != KindList) {
			// The layout's output never needs escaping: format in place.
			dst = append(dst, '"')
			dst = time.UnixMilli(v.Int).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
			return append(dst, '"')
		}
		return strconv.AppendInt(dst, v.Int, 10)
	case Float:
		return strconv.AppendFloat(dst, v.Float, 'g', -1, 64)
	case Bool:
		return strconv.AppendBool(dst, v.Int != 0)
	case List:
		dst = append(dst, '[')
		for i, e := range v.List {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, e, n.Elem)
		}
		return append(dst, ']')
	case JSON:
		if s, ok := v.JSON.(string); ok && marshalsPlain(s) {
			return appendString(dst, s)
		}
		b, err := json.Marshal(v.JSON)
		if err != nil {
			return append(dst, "null"...)
		}
		return append(dst, b...)
	}
	return append(dst, "null"...)
}

// marshalsPlain reports whether json.Marshal writes s as appendString does:
// it differs only in escaping <, > and & (HTML) and in writing \b and \f.
func marshalsPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<', '>', '&', '\b', '\f':
			return false
		}
	}
	return true
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// needsLook flags (in the high bit of a byte) the bytes of x that
// appendString cannot copy as they are: '"', '\\', control characters and
// non-ASCII. Borrows may flag a byte above a flagged one too; the caller only
// skips words with no flag at all.
func needsLook(x uint64) uint64 {
	q := x ^ (lsb * '"')
	b := x ^ (lsb * '\\')
	return ((q-lsb)&^q | (b-lsb)&^b | (x - lsb*0x20) | x) & msb
}

func load64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// appendString appends s as a JSON string, escaping as encoding/json does
// (without its HTML escaping) and replacing invalid UTF-8.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight plain bytes at a time: most text needs no escaping.
		if i+8 <= len(s) && needsLook(load64(s, i)) == 0 {
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Doc returns the last mapped record as a generic JSON document, for full
// JSON Schema validation and for tests. It allocates; the hot path does not use it.
func (m *Mapper) Doc() map[string]any {
	var doc map[string]any
	b := m.AppendJSON(nil)
	d := json.NewDecoder(bytesReader(b))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		panic("plan: AppendJSON wrote invalid JSON: " + err.Error())
	}
	return doc
}
