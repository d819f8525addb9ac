package plan

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/internal/jsontext"
)

// AppendJSON appends the last mapped record as one line of OCSF JSON, keys
// in the tree's order, absent attributes left out.
func (m *Mapper) AppendJSON(dst []byte) []byte {
	m = m.cur // the record's class, in a mapping with classes
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
			dst = jsontext.AppendString(dst, c.node.Name)
			dst = append(dst, ':')
			dst = m.appendNode(dst, c)
		}
		return append(dst, '}')
	}
}

func appendValue(dst []byte, v Value, n *Node) []byte {
	switch v.Kind {
	case String:
		return jsontext.AppendString(dst, v.Str)
	case Int:
		if n.Kind == KindDatetime || (n.Elem != nil && n.Elem.Kind == KindDatetime && n.Kind != KindList) {
			// The layout's output never needs escaping: format in place.
			dst = append(dst, '"')
			dst = time.UnixMilli(v.Int).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
			return append(dst, '"')
		}
		return strconv.AppendInt(dst, v.Int, 10)
	case Float:
		return jsontext.AppendFloat(dst, v.Float)
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
	case Object:
		shape := shapeNode(n)
		dst = append(dst, '{')
		first := true
		for i := range v.List {
			if v.List[i].Kind == Null {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = jsontext.AppendString(dst, shape.Children[i].Name)
			dst = append(dst, ':')
			dst = appendValue(dst, v.List[i], shape.Children[i])
		}
		return append(dst, '}')
	case JSON:
		// The same bytes as the JSON columns of the Parquet files.
		out, err := jsontext.AppendValue(dst, v.JSON)
		if err != nil {
			return append(dst, "null"...)
		}
		return out
	}
	return append(dst, "null"...)
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
