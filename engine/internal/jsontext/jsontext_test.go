package jsontext

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestAppendJSON(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"null", nil, `null`},
		{"string escapes", "a\"b\\c\n\t\r\x01<>&", `"a\"b\\c\n\t\r\u0001<>&"`},
		{"invalid utf8", "a\xffb", `"a\ufffdb"`},
		{"line separator", "a\u2028b", `"a\u2028b"`},
		{"unicode kept", "héllo ✓", `"héllo ✓"`},
		{"float int", 3.0, `3`},
		{"float frac", 1.5, `1.5`},
		{"float small", 1e-7, `1e-7`},
		{"float big", 1e21, `1e+21`},
		{"nan", math.NaN(), `null`},
		{"number", json.Number("12.50"), `12.50`},
		{"bool", true, `true`},
		{"int64", int64(-4), `-4`},
		{"sorted map", map[string]any{"b": 1.0, "a": []any{"x", nil}}, `{"a":["x",null],"b":1}`},
		{"strings", []string{"a", "b"}, `["a","b"]`},
		{"fallback", struct {
			A int `json:"a"`
		}{7}, `{"a":7}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendValue(nil, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	if _, err := AppendValue(nil, json.Number("1x")); err == nil {
		t.Error("invalid json.Number accepted")
	}
	if _, err := AppendValue(nil, make(chan int)); err == nil {
		t.Error("channel accepted")
	}
}

// FuzzAppendJSONString: any string encodes to valid JSON that decodes to the
// same text (invalid UTF-8 replaced as encoding/json replaces it).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\", "\x00\x1f", "\xff\xfe", "\u2028", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("invalid JSON %q: %v", enc, err)
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		// encoding/json replaces each invalid byte; ToValidUTF8 a run of them.
		ref, _ := json.Marshal(s)
		var refBack string
		_ = json.Unmarshal(ref, &refBack)
		if back != refBack && back != want {
			t.Fatalf("round trip %q -> %q, want %q", s, back, refBack)
		}
	})
}
