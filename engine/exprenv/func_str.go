package exprenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

func init() {
	register(Func{
		Name:  "str",
		Doc:   `str(v): string form of a scalar (numbers without exponent or trailing ".0", bools "true"/"false", lists and objects as compact JSON); nil stays nil, "" stays "".`,
		Fn:    fnStr,
		Types: []any{new(func(any) any)},
	})
}

func fnStr(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, arity("str", 1, len(args))
	}
	s, ok, err := scalarString(args[0])
	if err != nil || !ok {
		return nil, err
	}
	return s, nil
}

// scalarString is the string form shared by str, norm, tags_kv and truncate,
// so one value prints the same wherever a mapping uses it. ok is false for
// nil. Numbers use strconv 'f' -1: source JSON decodes every number to
// float64, and 1.7e+09 or "42.0" in an OCSF string field would be surprising.
func scalarString(v any) (s string, ok bool, err error) {
	switch x := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return x, true, nil
	case bool:
		if x {
			return "true", true, nil
		}
		return "false", true, nil
	case float64:
		return FormatFloat(x, 64), true, nil
	case float32:
		return FormatFloat(float64(x), 32), true, nil
	case int:
		return strconv.Itoa(x), true, nil
	case int64:
		return strconv.FormatInt(x, 10), true, nil
	case int32:
		return strconv.FormatInt(int64(x), 10), true, nil
	case int16:
		return strconv.FormatInt(int64(x), 10), true, nil
	case int8:
		return strconv.FormatInt(int64(x), 10), true, nil
	case uint:
		return strconv.FormatUint(uint64(x), 10), true, nil
	case uint64:
		return strconv.FormatUint(x, 10), true, nil
	case uint32:
		return strconv.FormatUint(uint64(x), 10), true, nil
	case uint16:
		return strconv.FormatUint(uint64(x), 10), true, nil
	case uint8:
		return strconv.FormatUint(uint64(x), 10), true, nil
	case json.Number:
		// Integers keep every digit (a 19-digit id must not round through
		// float64); anything else prints like a float64 would.
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return string(x), true, nil
		}
		f, err := x.Float64()
		if err != nil {
			return string(x), true, nil
		}
		return FormatFloat(f, 64), true, nil
	case time.Time:
		return x.Format(time.RFC3339Nano), true, nil
	case time.Duration:
		return x.String(), true, nil
	case []any, map[string]any, []string, map[string]string:
		b, err := compactJSON(x)
		if err != nil {
			return "", false, err
		}
		return string(b), true, nil
	case fmt.Stringer:
		return x.String(), true, nil
	default:
		b, err := compactJSON(x)
		if err != nil {
			return "", false, err
		}
		return string(b), true, nil
	}
}

// FormatFloat is the one text of a number in a record: no exponent, no
// trailing ".0", -0 as "0" (str() and a number written to a string
// attribute agree, so a partition value is the record's).
func FormatFloat(f float64, bits int) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		// 'f' would print "+Inf"/"NaN"; keep that, there is no better text.
		return strconv.FormatFloat(f, 'g', -1, bits)
	}
	if f == 0 {
		return "0" // also for -0, which 'f' prints as "-0"
	}
	return strconv.FormatFloat(f, 'f', -1, bits)
}

// compactJSON encodes v without HTML escaping (the output is data, not a web
// page) and without the encoder's trailing newline. Map keys come out sorted,
// as encoding/json always does.
func compactJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode %T as JSON: %w", v, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

func arity(name string, want, got int) error {
	return fmt.Errorf("%s: want %d argument(s), got %d", name, want, got)
}
