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
	return m.appendNode(dst, m.p.Root)
}

func (m *Mapper) appendNode(dst []byte, n *Node) []byte {
	if n.Slot >= 0 {
		return appendValue(dst, m.rec.Values[n.Slot], n)
	}
	switch n.Kind {
	case KindList:
		dst = append(dst, '[')
		first := true
		for _, it := range n.Items {
			if !m.Present(it) {
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
		for _, c := range n.Children {
			if !m.Present(c) {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendString(dst, c.Name)
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
			return appendString(dst, time.UnixMilli(v.Int).UTC().Format("2006-01-02T15:04:05.000Z07:00"))
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
		b, err := json.Marshal(v.JSON)
		if err != nil {
			return append(dst, "null"...)
		}
		return append(dst, b...)
	}
	return append(dst, "null"...)
}

// appendString appends s as a JSON string, escaping as encoding/json does
// (without its HTML escaping) and replacing invalid UTF-8.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
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
