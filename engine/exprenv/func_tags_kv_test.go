package exprenv

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestTagsKV(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want []string
	}{
		{"nil", nil, []string{}},
		{"empty string", "", []string{}},
		{"empty list", []any{}, []string{}},
		{"list of strings", []any{" env:prod ", "", "team:data", nil, "  ", "backup"}, []string{"env:prod", "team:data", "backup"}},
		{"go strings", []string{"a:b", " ", "c:d "}, []string{"a:b", "c:d"}},
		{"list of Key/Value", []any{
			map[string]any{"Key": "env", "Value": "prod"},
			map[string]any{"Key": "cost", "Value": float64(42)},
			map[string]any{"Key": "backup", "Value": ""},
		}, []string{"env:prod", "cost:42", "backup:"}},
		{"list of key/value", []any{map[string]any{"key": " env ", "value": " prod "}}, []string{"env:prod"}},
		{"list of name/value", []any{map[string]any{"name": "owner", "value": "山田"}}, []string{"owner:山田"}},
		{"key only", []any{map[string]any{"key": "critical"}}, []string{"critical:"}},
		{"null value", []any{map[string]any{"Key": "x", "Value": nil}}, []string{"x:"}},
		{"blank key dropped", []any{map[string]any{"Key": " ", "Value": "v"}}, []string{}},
		{"list of single-pair objects", []any{map[string]any{"env": "prod"}, map[string]any{"b": true, "a": 1.5}}, []string{"env:prod", "a:1.5", "b:true"}},
		{"numbers in list", []any{float64(7), true}, []string{"7", "true"}},
		{"object sorted", map[string]any{"team": "data", "env": "prod", "Cost": float64(1e6), "nested": map[string]any{"x": 1.0}},
			[]string{"Cost:1000000", "env:prod", "nested:{\"x\":1}", "team:data"}},
		{"object empty value", map[string]any{"backup": "", "x": nil}, []string{"backup:", "x:"}},
		{"go string map", map[string]string{"b": "2", "a": "1"}, []string{"a:1", "b:2"}},
		{"one string", "a:b, c:d ,,e:f", []string{"a:b", "c:d", "e:f"}},
		{"one tag", "env:prod", []string{"env:prod"}},
		{"json list in string", `["env:prod","team:data"]`, []string{"env:prod", "team:data"}},
		{"json object in string", `{"team":"data","env":"prod"}`, []string{"env:prod", "team:data"}},
		{"json aws tags in string", `[{"Key":"env","Value":"prod"}]`, []string{"env:prod"}},
		{"not json after all", "[draft],x:y", []string{"[draft]", "x:y"}},
		{"unicode and emoji", []any{"名前:テスト🚀", "🔥"}, []string{"名前:テスト🚀", "🔥"}},
		{"scalar", float64(3), []string{"3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fnTagsKV(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("tags_kv(%#v) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzTagsKV feeds JSON documents (what a source alert's tags field decodes
// from) and raw strings: never a panic, never nil, never a blank tag, and the
// same input always gives the same list (map order must not leak).
func FuzzTagsKV(f *testing.F) {
	for _, s := range []string{
		`["env:prod","team:data"]`, `{"b":"2","a":1}`, `[{"Key":"env","Value":"prod"},{"name":"x","value":null}]`,
		`"a:b,c:d"`, `null`, `[[1,2],{"k":{"n":true}}]`, `"[\"x:y\"]"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		inputs := []any{doc}
		var v any
		if json.Unmarshal([]byte(doc), &v) == nil {
			inputs = append(inputs, v)
		}
		for _, in := range inputs {
			got, err := tagsKV(in)
			if err != nil {
				t.Fatalf("tags_kv(%#v): %v", in, err)
			}
			if got == nil {
				t.Fatalf("tags_kv(%#v) = nil slice", in)
			}
			for _, tag := range got {
				if strings.TrimSpace(tag) == "" {
					t.Fatalf("tags_kv(%#v) holds a blank tag: %#v", in, got)
				}
			}
			again, _ := tagsKV(in)
			if !reflect.DeepEqual(got, again) {
				t.Fatalf("tags_kv(%#v) not deterministic: %#v vs %#v", in, got, again)
			}
		}
	})
}

var sinkStrings []string

func BenchmarkTagsKV(b *testing.B) {
	cases := map[string]any{
		"list-of-strings": []any{"env:prod", "team:data-platform", "owner:alice@example.com", "cost-center:cc-1042", "compliance:pci"},
		"object": map[string]any{"env": "prod", "team": "data-platform", "owner": "alice@example.com",
			"cost-center": "cc-1042", "compliance": "pci"},
		"aws-key-value": []any{
			map[string]any{"Key": "env", "Value": "prod"}, map[string]any{"Key": "team", "Value": "data-platform"},
			map[string]any{"Key": "owner", "Value": "alice@example.com"},
		},
		"string": "env:prod,team:data-platform,owner:alice@example.com",
	}
	for _, name := range []string{"list-of-strings", "object", "aws-key-value", "string"} {
		in := cases[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkStrings, _ = tagsKV(in)
			}
		})
	}
}
