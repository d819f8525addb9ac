package plan

import (
	"testing"

	"github.com/ocsfmap/ocsfmap/engine/internal/jsontext"
)

// TestAppendJSONValue: json_t values are written by jsontext, the same
// bytes as the JSON columns of the Parquet files (keys sorted, no HTML escaping).
func TestAppendJSONValue(t *testing.T) {
	for _, v := range []any{"<html> & more", map[string]any{"b": 1.5, "a": []any{true, nil}}, 12.0} {
		got := string(appendValue(nil, Value{Kind: JSON, JSON: v}, &Node{Kind: KindJSON}))
		want, _ := jsontext.AppendValue(nil, v)
		if got != string(want) {
			t.Errorf("JSON value %v: %s, want %s", v, got, want)
		}
	}
}
