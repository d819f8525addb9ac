package plan

// Kind is the shape of one node of a plan's output tree.
type Kind uint8

const (
	KindString   Kind = iota + 1 // string_t and every string-derived type except datetime_t
	KindInt                      // integer_t (32-bit) and integer-derived types
	KindLong                     // long_t and timestamp_t (ms since the epoch)
	KindFloat                    // float_t
	KindBool                     // boolean_t
	KindDatetime                 // datetime_t: held as ms since the epoch, written as RFC 3339 / timestamp(ms, UTC)
	KindJSON                     // json_t and open objects (unmapped): any JSON value, a JSON string in columnar form
	KindObject                   // an OCSF object: Children, or Elem when set as a whole
	KindList                     // an OCSF array: Elem, and Items when set by index
)

// Node is one attribute of the output tree a plan writes. The tree holds only
// the attributes the mapping sets (plus their parents), in a fixed order, so
// every record of one mapping version has the same shape.
type Node struct {
	Name     string // attribute name within its parent ("" for the root and list items)
	Path     string // OCSF path, e.g. "resources[0].owner.uid"
	Kind     Kind
	OCSFType string // declared OCSF type: "timestamp_t", "email_t", an object name, ...

	// Children of a KindObject node, sorted by name. A KindJSON node may have
	// Children too (unmapped.theme): they are written as keys of one JSON object.
	Children []*Node

	// KindList: Elem describes the element shape (the union of all Items).
	// A list set as a whole by one rule (labels from an array) is a leaf with
	// a Slot and no Items; a list set by index (resources[0].name) has one
	// Item per index, each with Elem's shape and slots of its own.
	//
	// KindObject set as a whole by one rule (resources[0].owner from an
	// expression): a leaf with a Slot and no Children; Elem is the object's
	// shape, every attribute the catalog gives it (see objectShape), whose
	// values the slot holds as an Object Value.
	Elem  *Node
	Items []*Node

	// Slot indexes Record.Values for leaves (scalars, JSON, whole lists and
	// objects); -1 otherwise.
	Slot int

	shape *shapeInfo // the object shape of a whole value: its per-record checks
}

// Leaf reports whether the node's value lives in a Record slot.
func (n *Node) Leaf() bool { return n.Slot >= 0 }

// ValueKind tells which field of a Value holds its value.
type ValueKind uint8

const (
	Null ValueKind = iota
	String
	Int   // Int holds integer, long, timestamp and datetime values
	Float // Float
	Bool  // Int: 0 or 1
	List  // List: its elements: scalars, or Objects in a list of objects set as a whole
	JSON  // JSON: a decoded JSON value (map[string]any, []any, string, float64, bool, json.Number)
	// Object: an OCSF object set as a whole. List holds one Value per child
	// of the object's shape, in the shape's order; Null where it has none.
	Object
)

// Value is one leaf value of a mapped record. Values are stored inline so a
// reused Record maps without allocating per scalar.
type Value struct {
	Kind  ValueKind
	Str   string
	Int   int64
	Float float64
	List  []Value
	JSON  any
}

// IsNull reports whether the value is absent.
func (v Value) IsNull() bool { return v.Kind == Null }

// Absent reports whether the value is left out of the record: null, and
// what OCSF has no use for either, an empty list and an empty JSON object
// or array. Every writer (JSON, columnar) and the per-record checks go by
// it, so the NDJSON and the lake hold the same attributes.
func (v *Value) Absent() bool {
	switch v.Kind {
	case Null:
		return true
	case List:
		return len(v.List) == 0
	case JSON:
		switch x := v.JSON.(type) {
		case nil:
			return true
		case map[string]any:
			return len(x) == 0
		case []any:
			return len(x) == 0
		}
	}
	return false
}

// Record is one mapped OCSF record, laid out by the plan's output tree.
// A Record is reused across calls to Plan.Map; copy what must outlive the next call.
type Record struct {
	Values []Value
}
