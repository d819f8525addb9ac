package validate

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// The JSON Schema library checks "type": "integer", "enum" and "const" on
// numbers through exact rationals (fmt.Sprint, then big.Rat) for every
// value and every enum member it compares: a sixth of the time spent
// validating an OCSF record, which is mostly ids and timestamps. In the
// compiled form only, each integer attribute's type/enum/const becomes one
// keyword of our own that checks int64s with a set lookup, reporting the
// same error kinds (type, enum, const) with the same values, so violations
// read exactly as before. The generated schema files are untouched.

// intKeyword replaces "type": "integer" (+ "enum" / "const") in a schema object.
const intKeyword = "x-ocsfmap-integer"

// intVocab is registered on every compiler newCompiler returns.
var intVocab = vocabulary("urn:ocsfmap:vocab:integer", compileInteger)

// vocabulary is a keyword vocabulary of our own (an empty meta-schema: the
// keywords are only ever written by this package) compiled by compile.
func vocabulary(url string, compile func(*jsonschema.CompilerContext, map[string]any) (jsonschema.SchemaExt, error)) *jsonschema.Vocabulary {
	meta, err := jsonschema.UnmarshalJSON(strings.NewReader(`{}`))
	if err != nil {
		panic(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, meta); err != nil {
		panic(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		panic(err)
	}
	return &jsonschema.Vocabulary{URL: url, Schema: sch, Compile: compile}
}

// rewriteIntegers walks a decoded schema and moves every integer
// attribute's type, enum and const into intKeyword.
func rewriteIntegers(v any) {
	switch x := v.(type) {
	case map[string]any:
		if x["type"] == "integer" {
			spec := map[string]any{}
			if e, ok := x["enum"]; ok {
				spec["enum"] = e
			}
			if c, ok := x["const"]; ok {
				spec["const"] = c
			}
			delete(x, "type")
			delete(x, "enum")
			delete(x, "const")
			x[intKeyword] = spec
		}
		for _, c := range x {
			rewriteIntegers(c)
		}
	case []any:
		for _, c := range x {
			rewriteIntegers(c)
		}
	}
}

type integerCheck struct {
	set     map[int64]bool // nil: any integer
	want    []any          // the enum as written, for the error
	isConst bool
}

func compileInteger(_ *jsonschema.CompilerContext, obj map[string]any) (jsonschema.SchemaExt, error) {
	spec, ok := obj[intKeyword].(map[string]any)
	if !ok {
		return nil, nil
	}
	ic := &integerCheck{}
	if c, ok := spec["const"]; ok {
		ic.want, ic.isConst = []any{c}, true
	} else if e, ok := spec["enum"].([]any); ok {
		ic.want = e
	}
	if ic.want != nil {
		ic.set = map[int64]bool{}
		for _, w := range ic.want {
			if n, ok := asInt64(w); ok {
				ic.set[n] = true
			}
		}
	}
	return ic, nil
}

func (ic *integerCheck) Validate(ctx *jsonschema.ValidatorContext, v any) {
	n, isNum, isInt, fits := numberOf(v)
	if !isInt {
		got := jsonType(v)
		if isNum {
			got = "number"
		}
		ctx.AddError(&kind.Type{Got: got, Want: []string{"integer"}})
		return
	}
	if ic.set == nil || fits && ic.set[n] {
		return
	}
	if ic.isConst {
		ctx.AddError(&kind.Const{Got: v, Want: ic.want[0]})
		return
	}
	ctx.AddError(&kind.Enum{Got: v, Want: ic.want})
}

// numberOf reads a decoded JSON number: whether it is one, whether it is
// an integer (1.0 and 1e3 are, to JSON Schema), and its value when it fits
// an int64.
func numberOf(v any) (n int64, isNum, isInt, fits bool) {
	switch x := v.(type) {
	case int64:
		return x, true, true, true
	case int:
		return int64(x), true, true, true
	case int32:
		return int64(x), true, true, true
	case float64:
		return floatInt(x)
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i, true, true, true
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return 0, false, false, false
		}
		return floatInt(f)
	}
	return 0, false, false, false
}

func floatInt(f float64) (n int64, isNum, isInt, fits bool) {
	if f != math.Trunc(f) || math.IsInf(f, 0) {
		return 0, true, false, false
	}
	if math.Abs(f) >= 1<<63 {
		return 0, true, true, false
	}
	return int64(f), true, true, true
}

func asInt64(v any) (int64, bool) {
	n, _, _, fits := numberOf(v)
	return n, fits
}

// jsonType names a decoded value's JSON type as the library's errors do.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "number"
}
