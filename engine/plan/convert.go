package plan

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ocsfmap/ocsfmap/engine/exprenv"
)

// convert turns a source or expression value into the Value node n holds.
// Numbers become strings and numeric strings numbers where the target asks
// for it; anything else that does not fit is an error.
func convert(v any, n *Node) (Value, error) {
	switch x := v.(type) {
	case nil:
		return Value{}, nil
	case *preset:
		return Value(*x), nil
	}
	k := n.Kind
	switch k {
	case KindString:
		return toString(v)
	case KindInt, KindLong:
		i, err := toInt(v)
		if err != nil {
			if s, text := v.(string); text && n.OCSFType == "timestamp_t" {
				return Value{}, fmt.Errorf("%q is text, and %s is epoch milliseconds: read it with epoch_ms(…) (ISO 8601, epoch numbers) or parse_time(…, layout)", s, n.OCSFType)
			}
			return Value{}, err
		}
		if k == KindInt && (i > math.MaxInt32 || i < math.MinInt32) {
			return Value{}, fmt.Errorf("%d does not fit a 32-bit integer_t", i)
		}
		return Value{Kind: Int, Int: i}, nil
	case KindFloat:
		f, err := toFloat(v)
		return Value{Kind: Float, Float: f}, err
	case KindBool:
		switch b := v.(type) {
		case bool:
			return boolValue(b), nil
		case string:
			if p, err := strconv.ParseBool(strings.TrimSpace(b)); err == nil {
				return boolValue(p), nil
			}
		}
		return Value{}, fmt.Errorf("%s is not a boolean", describe(v))
	case KindDatetime:
		if s, ok := v.(string); ok {
			t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
			if err != nil {
				return Value{}, fmt.Errorf("%q is not an RFC 3339 time", s)
			}
			return Value{Kind: Int, Int: t.UnixMilli()}, nil
		}
		i, err := toInt(v)
		return Value{Kind: Int, Int: i}, err
	case KindJSON:
		return Value{Kind: JSON, JSON: v}, nil
	case KindList:
		return toList(v, n.Elem)
	case KindObject:
		return toObject(v, shapeNode(n))
	}
	return Value{}, fmt.Errorf("cannot hold %s", describe(v))
}

// setValue stores convert(v, n) in *dst. The common cases set just the
// fields they use: copying whole Values is a large part of mapping.
func setValue(dst *Value, v any, n *Node) error {
	if dst.Kind != Null {
		*dst = Value{}
	}
	switch x := v.(type) {
	case nil:
		return nil
	case *preset:
		*dst = Value(*x)
		return nil
	case string:
		if n.Kind == KindString {
			dst.Kind, dst.Str = String, x
			return nil
		}
	case int64:
		if k := n.Kind; k == KindLong || k == KindDatetime {
			dst.Kind, dst.Int = Int, x
			return nil
		}
	}
	val, err := convert(v, n)
	if err != nil {
		return err
	}
	*dst = val
	return nil
}

func boolValue(b bool) Value {
	if b {
		return Value{Kind: Bool, Int: 1}
	}
	return Value{Kind: Bool}
}

// toList accepts a list, or one value as a list of one (labels from a list
// or one value).
func toList(v any, elem *Node) (Value, error) {
	var items []any
	switch l := v.(type) {
	case []any:
		items = l
	case []string:
		out := make([]Value, 0, len(l))
		for _, s := range l {
			if elem.Kind == KindString {
				out = append(out, Value{Kind: String, Str: s}) // convert would box s
				continue
			}
			ev, err := convert(s, elem)
			if err != nil {
				return Value{}, err
			}
			out = append(out, ev)
		}
		return Value{Kind: List, List: out}, nil
	default:
		items = []any{v}
	}
	out := make([]Value, 0, len(items))
	for i, it := range items {
		if it == nil {
			continue // a null element is not valid OCSF; drop it
		}
		ev, err := convert(it, elem)
		if err != nil {
			if _, inObject := err.(*fieldError); inObject || elem.Kind == KindObject {
				return Value{}, below(strconv.Itoa(i), err)
			}
			return Value{}, fmt.Errorf("element %d: %w", i, err)
		}
		if ev.Absent() {
			continue // an empty object or list element is left out, as null is
		}
		out = append(out, ev)
	}
	return Value{Kind: List, List: out}, nil
}

func toString(v any) (Value, error) {
	switch s := v.(type) {
	case string:
		return Value{Kind: String, Str: s}, nil
	case float64:
		return Value{Kind: String, Str: exprenv.FormatFloat(s, 64)}, nil
	case int:
		return Value{Kind: String, Str: strconv.Itoa(s)}, nil
	case int64:
		return Value{Kind: String, Str: strconv.FormatInt(s, 10)}, nil
	case json.Number:
		return Value{Kind: String, Str: s.String()}, nil
	case bool:
		return Value{Kind: String, Str: strconv.FormatBool(s)}, nil
	}
	return Value{}, fmt.Errorf("%s is not a string", describe(v))
}

func toInt(v any) (int64, error) {
	switch n := v.(type) {
	case int:
		return int64(n), nil
	case int64:
		return n, nil
	case int32:
		return int64(n), nil
	case uint8:
		return int64(n), nil
	case float64:
		if n != math.Trunc(n) || math.IsInf(n, 0) || n > math.MaxInt64 || n < math.MinInt64 {
			return 0, fmt.Errorf("%v is not an integer", n)
		}
		return int64(n), nil
	case json.Number:
		return strconv.ParseInt(n.String(), 10, 64)
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer", n)
		}
		return i, nil
	}
	return 0, fmt.Errorf("%s is not an integer", describe(v))
}

func toFloat(v any) (float64, error) {
	switch n := v.(type) {
	case float64:
		return n, nil
	case int:
		return float64(n), nil
	case int64:
		return float64(n), nil
	case json.Number:
		return n.Float64()
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", n)
		}
		return f, nil
	}
	return 0, fmt.Errorf("%s is not a number", describe(v))
}

// describe names a value's JSON type for error messages, with a short excerpt.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return strconv.Quote(x)
	case map[string]any:
		return "an object"
	case []any, []string:
		return "an array"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%v", v)
}
