package columnar

import (
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/plan"
)

func TestAppendValueJSON(t *testing.T) {
	tests := []struct {
		kind plan.Kind
		v    plan.Value
		want string
	}{
		{plan.KindDatetime, plan.Value{Kind: plan.Int, Int: 1772323200123}, `"2026-03-01T00:00:00.123Z"`},
		{plan.KindBool, plan.Value{Kind: plan.Int, Int: 1}, `true`},
		{plan.KindLong, plan.Value{Kind: plan.Int, Int: 7}, `7`},
		{plan.KindString, plan.Value{Kind: plan.List, List: []plan.Value{{Kind: plan.String, Str: "a"}, {}}}, `["a",null]`},
		{plan.KindJSON, plan.Value{Kind: plan.JSON, JSON: map[string]any{"k": "v"}}, `{"k":"v"}`},
		{plan.KindFloat, plan.Value{Kind: plan.Float, Float: 0.25}, `0.25`},
	}
	for _, tt := range tests {
		got, err := appendValueJSON(nil, tt.kind, &tt.v)
		if err != nil || string(got) != tt.want {
			t.Errorf("%v %+v: got %s, %v; want %s", tt.kind, tt.v, got, err, tt.want)
		}
	}
}
